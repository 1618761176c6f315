/**
 * Agent-training environments over world-model sessions: Gymnasium-style {@link WorldEnv}
 * and {@link VectorWorldEnv}, a PettingZoo-Parallel-style {@link MultiAgentWorldEnv}, spaces,
 * physics rewards, and a msgpack protocol so external learners (e.g. Python) can drive them.
 */
export { WorldEnv } from './world_env.js';
export type { EnvMetadata, ResetArgs, StepResult } from './world_env.js';
export { VectorWorldEnv } from './vector_env.js';
export type { AutoresetMode, VectorMetadata, VectorResetArgs, VectorStepResult } from './vector_env.js';
export { MultiAgentWorldEnv } from './multi_agent_env.js';
export type { MultiAgentMetadata, MultiAgentResetArgs } from './multi_agent_env.js';
export { DISCRETE_ACTIONS } from './core.js';
export type { EnvOptions, Granularity, ActionType, DiscreteAction, ObservationOptions, ResetOptions, StepInfo } from './core.js';
export { Box, Discrete, MultiBinary, MultiDiscrete, Dict, Space, batchSpace, concatenate, iterate, spaceFromJSON } from './spaces.js';
export type { BoxDType, BoxValue, SpaceJSON, BoxJSON, DiscreteJSON, MultiBinaryJSON, MultiDiscreteJSON, DictJSON, SpaceValue } from './spaces.js';
export { reachGoal, goalProgress, collisionPenalty, stepCost, combineRewards, goalTask } from './rewards.js';
export type { Pose, RewardContext, RewardFn, RewardResult, RewardReport } from './rewards.js';
// Types the options and reward contexts refer to (from the game server's physics and levels).
export type { ActionMap } from '../../world/src/conditioning.js';
export type { CharacterParams, TickMotion } from '../../world/src/physics.js';
export type { Level, LevelBox, LevelPillar, LevelSpawn, Color, Vec3 } from '../../world/src/levels/index.js';

/**
 * worldcast world: the one simulation the game server, the agent environments, the dataset
 * generator and the eval share — levels, rapier physics and characters, the ground-truth
 * renderer, the geometry map, motion → action conditioning (its defaults in one place) and
 * the seeded RNG. It knows no network: nothing here imports Colyseus or the wire protocol.
 */
export { ALL_KEYS_MASK, KEY_BITS } from './keys.js';
export type { KeyName } from './keys.js';
export { PhysicsWorld, Character, initPhysics, defaultCharacterParams } from './physics.js';
export type { CharacterInput, CharacterParams, TickMotion } from './physics.js';
export {
  DEFAULT_KEY_THRESHOLD,
  checkGeometrySpace,
  conditioningParams,
  defaultActionMap,
  frameAction,
  fromAxis,
  groupMotion,
  motionToConditioning,
  poseInputs,
  takeFrameGeometry,
} from './conditioning.js';
export type { ActionMap, Conditioning, ConditioningParams, FrameMotion, GeometryView, PoseInputs } from './conditioning.js';
export { defaultLevel, defaultWorldActionSpace, loadLevelFile, spawnPose, validateLevel } from './levels/index.js';
export type { Color, Level, LevelBox, LevelPillar, LevelSpawn, LevelWalker, Vec3 } from './levels/index.js';
export {
  CHARACTER_COLORS,
  EYE_HEIGHT,
  FOV_Y,
  GEOMETRY_CHANNELS,
  GEOMETRY_DEFAULTS,
  LIGHTING,
  PROMPTS,
  VISOR_COLOR,
  castRay,
  eyeFromCharacter,
  geometryPoolFactor,
  poolGeometry,
  renderGeometry,
  renderView,
  resolveLighting,
} from './render.js';
export type { Camera, CharacterShape, GeometryOptions, Lighting, PromptName } from './render.js';
export { Rng } from './rng.js';
export { Walker } from './walkers.js';
export { WorldDriver, checkHeldInput, heldControl } from './driver.js';
export type { Control, DrivenBlock, HeldInput, WorldDriverOptions } from './driver.js';

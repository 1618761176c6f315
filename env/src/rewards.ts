/**
 * Rewards and termination from the ground-truth physics. A {@link RewardFn} sees one video
 * frame of an agent's motion as rapier allowed it (poses before and after, the ticks, whether
 * a wall stopped it) and returns a reward, optionally ending the episode. An environment
 * takes one function or a list (summed, terminated if any terminates); time limits are the
 * environment's `maxEpisodeSteps` (truncation, as Gymnasium's TimeLimit).
 */
import type { Level } from '../../world/src/levels/index.js';
import type { TickMotion } from '../../world/src/physics.js';
import type { Pose } from '../../sdk/src/actions.js';

/** A character's true pose: the SDK's (foot position, yaw 0 faces −Z, pitch > 0 looks up). */
export type { Pose };

/** What a reward function sees for one frame of one agent. */
export interface RewardContext {
  /** The agent's name ('agent_0' … in a multi-agent world; 'agent_0' in a single env). */
  agent: string;
  /** Frames the episode has run, this one included (1 for the first frame after reset). */
  frame: number;
  /** Pose before this frame's ticks. */
  prev: Pose;
  /** Pose after them. */
  pose: Pose;
  /** The physics ticks of this frame (what the character controller allowed). */
  ticks: readonly TickMotion[];
  /** A wall or another body took away most of the motion the keys asked for. */
  blocked: boolean;
  /** The level (its colliders and spawn points). */
  level: Level;
  /** The other agents sharing the world, by name (empty in single-agent envs). */
  others: ReadonlyMap<string, Pose>;
}

/** A reward function's answer: a number, or a reward with termination and info to report. */
export type RewardResult = number | RewardReport;

/** A reward function's full answer. */
export interface RewardReport {
  /** The frame's reward (default 0). */
  reward?: number;
  /** End the episode (default false). */
  terminated?: boolean;
  /** Merged into the step's info (e.g. a distance to the goal). */
  info?: Record<string, unknown>;
}

/** A reward function: called for every frame of every agent's step. */
export type RewardFn = (ctx: RewardContext) => RewardResult;

const dist2d = (p: Pose, c: readonly [number, number]): number => Math.hypot(p.x - c[0], p.z - c[1]);

/** +`reward` and the end of the episode when the agent's feet are within `radius` of `center` ([x, z]). */
export function reachGoal(o: { center: [number, number]; radius?: number; reward?: number; terminate?: boolean }): RewardFn {
  const { center, radius = 1, reward = 1, terminate = true } = o;
  return (ctx) => {
    const d = dist2d(ctx.pose, center);
    const reached = d <= radius;
    return { reward: reached ? reward : 0, terminated: reached && terminate, info: { goalDistance: d, reachedGoal: reached } };
  };
}

/** Shaping: `scale` × how much closer to `center` ([x, z]) the agent got this frame (m). */
export function goalProgress(o: { center: [number, number]; scale?: number }): RewardFn {
  const { center, scale = 1 } = o;
  return (ctx) => scale * (dist2d(ctx.prev, center) - dist2d(ctx.pose, center));
}

/** −`penalty` for each frame the agent walked into something; optionally ends the episode. */
export function collisionPenalty(o: { penalty?: number; terminate?: boolean } = {}): RewardFn {
  const { penalty = 0.1, terminate = false } = o;
  return (ctx) => ({ reward: ctx.blocked ? -penalty : 0, terminated: ctx.blocked && terminate, info: { collided: ctx.blocked } });
}

/** −`cost` every frame (prefers short episodes). */
export function stepCost(cost = 0.01): RewardFn {
  return () => -cost;
}

/** Several reward functions as one: rewards summed, terminated if any says so, infos merged. */
export function combineRewards(fns: readonly RewardFn[]): RewardFn {
  return (ctx) => {
    let reward = 0;
    let terminated = false;
    const info: Record<string, unknown> = {};
    for (const f of fns) {
      const r = f(ctx);
      if (typeof r === 'number') reward += r;
      else {
        reward += r.reward ?? 0;
        terminated ||= r.terminated ?? false;
        Object.assign(info, r.info);
      }
    }
    return { reward, terminated, info };
  };
}

/** The goal task of the default world: get to `center` ([x, z]); shaping by progress, a small cost per frame and per collision. */
export function goalTask(center: [number, number], radius = 1): RewardFn {
  return combineRewards([reachGoal({ center, radius, reward: 10 }), goalProgress({ center }), collisionPenalty({ penalty: 0.05 }), stepCost(0.01)]);
}

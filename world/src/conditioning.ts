/**
 * Motion → action conditioning. The ticks a character moved since its view's last block
 * are split into one group per latent frame of the next block; each group's motion (what
 * physics allowed, not what was pressed) becomes that frame's action: movement keys where
 * the average speed along an axis passes a threshold of the walking speed, `space` where a
 * jump left the ground, and the mouse axes from the turn rates, scaled into the model's
 * action ranges (`model.config.action`). A player walking into a wall is conditioned as
 * standing still. Models whose action space has `pose` also get the character's pose at
 * the end of each frame's ticks, models whose space has `geometry` the map of the level
 * seen from that pose ({@link renderGeometry} at the session's latent size), and models whose
 * decoder takes the geometry (`frameGeometry`) the decoder's finer map of that view.
 */
import { encodeActions, encodeGeometry, type ActionInput, type ActionSpace, type LatentSize, type Pose } from '../../sdk/src/index.js';
import type { Level } from './levels/index.js';
import type { CharacterParams, TickMotion } from './physics.js';
import { eyeFromCharacter, GEOMETRY_CHANNELS, geometryPoolFactor, poolGeometry, renderGeometry, type CharacterShape } from './render.js';

/** Which action-space names stand for which motion; names absent from the model's space are skipped. */
export interface ActionMap {
  /** Key for walking forward. */
  forward: string;
  /** Key for walking back. */
  back: string;
  /** Key for stepping left. */
  left: string;
  /** Key for stepping right. */
  right: string;
  /** Key for jumping. */
  jump: string;
  /** Mouse axis for turning (value > 0 = turning right). */
  yaw: string;
  /** Mouse axis for pitching (value > 0 = looking down). */
  pitch: string;
}

export const defaultActionMap: ActionMap = { forward: 'w', back: 's', left: 'a', right: 'd', jump: 'space', yaw: 'dx', pitch: 'dy' };

export interface ConditioningParams {
  /** Speed of a held movement key (m/s): the reference for the key threshold. */
  walkSpeed: number;
  /** Turn rate (rad/s) that maps to a mouse axis' full range. */
  maxTurnRate: number;
  /** A movement key is "pressed" when the allowed speed along its axis exceeds this fraction of walkSpeed. */
  keyThreshold: number;
  map: ActionMap;
  /** For models whose action space has `geometry`: the level and the session's latent size its maps are drawn at. */
  view?: GeometryView;
}

/** The default fraction of walkSpeed above which a movement key counts as pressed. */
export const DEFAULT_KEY_THRESHOLD = 0.3;

/**
 * The conditioning parameters of a character (its walk speed and turn rate) with the
 * defaults every user of the world shares: the game server's rooms, the agent environments,
 * the dataset generator and the eval.
 */
export function conditioningParams(
  character: Pick<CharacterParams, 'walkSpeed' | 'maxTurnRate'>,
  o: { keyThreshold?: number; map?: Partial<ActionMap>; view?: GeometryView } = {},
): ConditioningParams {
  const p: ConditioningParams = { walkSpeed: character.walkSpeed, maxTurnRate: character.maxTurnRate, keyThreshold: o.keyThreshold ?? DEFAULT_KEY_THRESHOLD, map: { ...defaultActionMap, ...o.map } };
  if (o.view) p.view = o.view;
  return p;
}

/**
 * What a geometry-taking model's maps are drawn from: the level, at a session's latent
 * size, and the other characters physics has in it now (players, walkers), drawn where
 * they stand — so every player's world shows the others consistently.
 */
export interface GeometryView {
  level: Level;
  latent: LatentSize;
  characters?: readonly CharacterShape[];
}

/**
 * Throws when a model's geometry map (the DiT's, `geometry`, or its decoder's,
 * `frameGeometry`) is not the one the game server draws ({@link GEOMETRY_CHANNELS} channels
 * of renderGeometry).
 */
export function checkGeometrySpace(space: ActionSpace | null | undefined): void {
  const g = space?.geometry;
  if (g && g.channels !== GEOMETRY_CHANNELS)
    throw new Error(`the model takes a ${g.channels}-channel geometry map; the game server draws ${GEOMETRY_CHANNELS} channels (renderGeometry)`);
  const d = space?.frameGeometry;
  if (d && d.channels !== GEOMETRY_CHANNELS)
    throw new Error(`the model's decoder takes a ${d.channels}-channel geometry map; the game server draws ${GEOMETRY_CHANNELS} channels (renderGeometry)`);
}

/** What {@link poseInputs} gives a frame. */
export type PoseInputs = Pick<ActionInput, 'pose' | 'geometry' | 'frameGeometry'>;

/**
 * The inputs a frame gets from the character's pose: the pose itself for models whose
 * space has `pose`; the level's geometry seen from it (when `p.view` says where; otherwise
 * none, read as "unknown") for models whose space has `geometry`, at the latent size; and
 * for models whose decoder takes the geometry (`frameGeometry`), the decoder's finer map at
 * its own size and sampling. Where the DiT's map is an average pool of the decoder's (the
 * same rays: {@link geometryPoolFactor} — the default world's 16×16 map at 4×4 rays a pixel
 * and its decoder's 64×64 at 1), the rays are cast once and the DiT's map is pooled from
 * the decoder's ({@link poolGeometry}); otherwise each is drawn.
 */
export function poseInputs(pose: Pose, space: ActionSpace, p: Pick<ConditioningParams, 'view'>): PoseInputs {
  const out: PoseInputs = {};
  if (space.pose) out.pose = pose;
  const v = p.view;
  if (!v) return out;
  const camera = eyeFromCharacter(pose);
  const g = space.geometry;
  const d = space.frameGeometry;
  let fine: Float32Array | undefined;
  if (d) out.frameGeometry = fine = renderGeometry(v.level, camera, d.width, d.height, { samples: d.samples, near: d.near, characters: v.characters });
  if (g) {
    const { width, height } = v.latent;
    const k = d && fine && d.channels === g.channels ? geometryPoolFactor(d, { width, height, samples: g.samples, near: g.near }) : 0;
    out.geometry = k > 0 ? poolGeometry(fine!, GEOMETRY_CHANNELS, d!.width, d!.height, k) : renderGeometry(v.level, camera, width, height, { ...g, characters: v.characters });
  }
  return out;
}

/**
 * Moves the decoder's maps out of a block's per-frame inputs (`frameGeometry`): one per
 * frame, in order, or undefined when no frame has one. The inputs keep everything else, so
 * a caller that decodes the block itself (the game server) holds the maps only until each
 * frame is decoded.
 */
export function takeFrameGeometry(c: Conditioning): (Float32Array | undefined)[] | undefined {
  if (!c.inputs.some((a) => a.frameGeometry !== undefined)) return undefined;
  return c.inputs.map((a) => {
    const m = a.frameGeometry;
    delete a.frameGeometry;
    return m;
  });
}

/** The motion of one latent frame's worth of ticks. */
export interface FrameMotion {
  seconds: number;
  forwardSpeed: number;
  rightSpeed: number;
  /** Rose (m) after a jump in this group. */
  jumped: boolean;
  /** rad/s, > 0 = turning right. */
  turnRate: number;
  /** rad/s, > 0 = looking down. */
  pitchRate: number;
  /** The pose after the group's last tick (absent for a group without ticks). */
  pose?: Pose;
}

/** Split tick motions into `frames` consecutive groups and average each. */
export function groupMotion(ticks: readonly TickMotion[], frames: number): FrameMotion[] {
  const out: FrameMotion[] = [];
  const n = ticks.length;
  for (let f = 0; f < frames; f++) {
    let a = Math.floor((f * n) / frames);
    let b = Math.floor(((f + 1) * n) / frames);
    // Fewer ticks than frames: a frame takes the tick its time span falls in.
    if (b <= a && n > 0) b = (a = Math.min(n - 1, a)) + 1;
    let t = 0;
    let fw = 0;
    let rt = 0;
    let up = 0;
    let yaw = 0;
    let pitch = 0;
    let jumped = false;
    for (let i = a; i < b; i++) {
      const m = ticks[i]!;
      t += m.dt;
      fw += m.forward;
      rt += m.right;
      up += m.up;
      yaw += m.yaw;
      pitch += m.pitch;
      jumped ||= m.jumped;
    }
    const m: FrameMotion =
      t > 0
        ? { seconds: t, forwardSpeed: fw / t, rightSpeed: rt / t, jumped: jumped && up > 0, turnRate: -yaw / t, pitchRate: -pitch / t }
        : { seconds: 0, forwardSpeed: 0, rightSpeed: 0, jumped: false, turnRate: 0, pitchRate: 0 };
    const last = b > a ? ticks[b - 1]?.pose : undefined;
    if (last) m.pose = last;
    out.push(m);
  }
  return out;
}

/** Scale v in [-1, 1] into an axis range [min, max] (0 stays 0 when the range spans it). */
function toAxis(v: number, min: number, max: number): number {
  const c = Math.max(-1, Math.min(1, v)) + 0; // + 0: no negative zero
  if (min < 0 && max > 0) return (c >= 0 ? c * max : -c * min) + 0;
  return min + ((c + 1) / 2) * (max - min);
}

/** The inverse of {@link toAxis}: an axis value in [min, max] as a fraction in [-1, 1] of the largest rate. */
export function fromAxis(v: number, min: number, max: number): number {
  const f = min < 0 && max > 0 ? (v >= 0 ? v / max : -v / min) : (2 * (v - min)) / (max - min) - 1;
  return Math.max(-1, Math.min(1, f)) + 0; // + 0: no negative zero
}

/** One latent frame's action from its motion. */
export function frameAction(m: FrameMotion, space: ActionSpace, p: ConditioningParams): ActionInput {
  const keys: string[] = [];
  const thr = p.keyThreshold * p.walkSpeed;
  const has = (k: string): boolean => space.keys.includes(k);
  if (m.forwardSpeed > thr && has(p.map.forward)) keys.push(p.map.forward);
  if (m.forwardSpeed < -thr && has(p.map.back)) keys.push(p.map.back);
  if (m.rightSpeed > thr && has(p.map.right)) keys.push(p.map.right);
  if (m.rightSpeed < -thr && has(p.map.left)) keys.push(p.map.left);
  if (m.jumped && has(p.map.jump)) keys.push(p.map.jump);
  const mouse: Record<string, number> = {};
  const yawAxis = space.mouse.find((a) => a.name === p.map.yaw);
  const pitchAxis = space.mouse.find((a) => a.name === p.map.pitch);
  if (yawAxis) mouse[yawAxis.name] = toAxis(m.turnRate / p.maxTurnRate, yawAxis.min, yawAxis.max);
  if (pitchAxis) mouse[pitchAxis.name] = toAxis(m.pitchRate / p.maxTurnRate, pitchAxis.min, pitchAxis.max);
  return m.pose ? { keys, mouse, ...poseInputs(m.pose, space, p) } : { keys, mouse };
}

/**
 * The conditioning of one block: per-frame action inputs (each with its decoder map,
 * `frameGeometry`, for a model whose decoder takes one: {@link takeFrameGeometry}), the
 * encoded [frames × actionSize] action rows and, for geometry-taking models, the block's
 * maps [channels, frames, H, W] (its own input of the step: `step({actions: encoded, geometry})`).
 */
export interface Conditioning {
  inputs: ActionInput[];
  encoded: Float32Array | undefined;
  geometry?: Float32Array;
}

/**
 * Per-frame actions for a block of `frames` latent frames from the ticks since the last
 * block. `pose` (the character's pose now) stands in for a frame without ticks.
 */
export function motionToConditioning(ticks: readonly TickMotion[], frames: number, space: ActionSpace | null, p: ConditioningParams, pose?: Pose): Conditioning {
  if (!space) return { inputs: [], encoded: undefined };
  const inputs = groupMotion(ticks, frames).map((m) => frameAction(m.pose || !pose ? m : { ...m, pose }, space, p));
  const geometry = p.view ? encodeGeometry(inputs, space, frames, p.view.latent) : undefined;
  return geometry ? { inputs, encoded: encodeActions(inputs, space, frames), geometry } : { inputs, encoded: encodeActions(inputs, space, frames) };
}

/**
 * Scripted driving of one character through a level, the way the game server's room drives
 * a player's view: a held input (keys by name, mouse axes as turn rates) is applied tick by
 * tick (`character.step`, then `physics.step`), and each block's conditioning is the motion
 * physics allowed ({@link motionToConditioning}), with the pose and the geometry map for
 * models that take them. The headless render CLI and LV-Bench use it so their frames are the
 * world the demo shows; the agent environments share its input mapping ({@link heldControl}).
 *
 * A held input's mouse value is the axis value the model is conditioned with when nothing
 * stops the turn: `dx: 0.2` on an axis of [-1, 1] turns right at 0.2 × `maxTurnRate` (the
 * inverse of the conditioning's axis scaling, {@link fromAxis}).
 */
import { ArgumentError } from '../../sdk/src/errors.js';
import type { ActionInput, ActionSpace, LatentSize, Pose } from '../../sdk/src/index.js';
import { checkGeometrySpace, conditioningParams, fromAxis, motionToConditioning, poseInputs, type ActionMap, type Conditioning, type ConditioningParams } from './conditioning.js';
import { KEY_BITS } from './keys.js';
import { defaultLevel, spawnPose, type Level } from './levels/index.js';
import { PhysicsWorld, type Character, type CharacterInput, type CharacterParams, type TickMotion } from './physics.js';

/** What a character is told to do for a span of world time: key names and mouse axis values of the model's action space. */
export interface HeldInput {
  /** Keys held (names of the action space's keys). */
  keys?: readonly string[];
  /** Mouse axis values by name, each within the axis' [min, max]. */
  mouse?: Readonly<Record<string, number>>;
}

/** Physics control of a held input: key bits and turn / pitch rates (rad/s). */
export interface Control {
  keys: number;
  turnRate: number;
  pitchRate: number;
}

/**
 * Check an untrusted held input against an action space: an object with optional `keys`
 * (an array of the space's key names) and `mouse` (the space's axis names → finite numbers
 * within their ranges), nothing else. Throws an ArgumentError naming `where` and the field.
 */
export function checkHeldInput(v: unknown, space: ActionSpace, where: string): HeldInput {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ArgumentError(`${where} must be an object {keys?: [...], mouse?: {...}}`, 'ARGUMENT');
  const { keys, mouse, ...rest } = v as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length) throw new ArgumentError(`${where}: unknown field "${extra[0]}"; known: keys, mouse`, 'ARGUMENT');
  const out: { keys?: string[]; mouse?: Record<string, number> } = {};
  if (keys !== undefined) {
    if (!Array.isArray(keys)) throw new ArgumentError(`${where}.keys must be an array of key names`, 'ARGUMENT');
    for (const k of keys)
      if (typeof k !== 'string' || !space.keys.includes(k))
        throw new ArgumentError(`${where}.keys: ${JSON.stringify(k)} is not a key of this model (${space.keys.join(', ') || 'none'})`, 'ARGUMENT');
    out.keys = [...(keys as string[])];
  }
  if (mouse !== undefined) {
    if (typeof mouse !== 'object' || mouse === null || Array.isArray(mouse)) throw new ArgumentError(`${where}.mouse must be an object of axis values`, 'ARGUMENT');
    out.mouse = {};
    for (const [name, val] of Object.entries(mouse as Record<string, unknown>)) {
      const ax = space.mouse.find((a) => a.name === name);
      if (!ax) throw new ArgumentError(`${where}.mouse: "${name}" is not a mouse axis of this model (${space.mouse.map((a) => a.name).join(', ') || 'none'})`, 'ARGUMENT');
      if (typeof val !== 'number' || !Number.isFinite(val) || val < ax.min || val > ax.max)
        throw new ArgumentError(`${where}.mouse.${name} must be a number in [${ax.min}, ${ax.max}] (got ${JSON.stringify(val)})`, 'ARGUMENT');
      out.mouse[name] = val;
    }
  }
  return out;
}

/** The physics control of a (checked) held input: the map's keys as key bits, its yaw / pitch axes as turn rates. */
export function heldControl(held: HeldInput, space: ActionSpace, p: Pick<ConditioningParams, 'map' | 'maxTurnRate'>): Control {
  const m: ActionMap = p.map;
  const on = new Set(held.keys ?? []);
  let keys = 0;
  if (on.has(m.forward)) keys |= KEY_BITS.w;
  if (on.has(m.back)) keys |= KEY_BITS.s;
  if (on.has(m.left)) keys |= KEY_BITS.a;
  if (on.has(m.right)) keys |= KEY_BITS.d;
  if (on.has(m.jump)) keys |= KEY_BITS.space;
  let turn = 0;
  let pitch = 0;
  for (const ax of space.mouse) {
    const v = held.mouse?.[ax.name];
    if (v === undefined) continue;
    if (ax.name === m.yaw) turn = fromAxis(v, ax.min, ax.max);
    if (ax.name === m.pitch) pitch = fromAxis(v, ax.min, ax.max);
  }
  return { keys, turnRate: turn * p.maxTurnRate, pitchRate: pitch * p.maxTurnRate };
}

/** Options of a {@link WorldDriver}. */
export interface WorldDriverOptions {
  /** The level (default: the default world's yard). */
  level?: Level;
  /** Spawn point index (default 0). */
  spawn?: number;
  /** Character dimensions and speeds (default: the game server's). */
  character?: Partial<CharacterParams>;
  /** Physics ticks per second (default 30, the room's); a multiple of the frame rate. */
  tickRate?: number;
  /** The session's latent size: the geometry maps are drawn at it. */
  latent: LatentSize;
  /** A movement key conditions as pressed above this fraction of the walking speed (default: the room's). */
  keyThreshold?: number;
  /** Which action names stand for which motion (default w a s d space, mouse dx dy). */
  actionMap?: Partial<ActionMap>;
}

/** One block driven: its conditioning and the character's pose at the end of each latent frame. */
export interface DrivenBlock extends Conditioning {
  poses: Pose[];
}

/** One character in its own physics world, driven block by block by held inputs. */
export class WorldDriver {
  readonly level: Level;
  readonly spawn: number;
  readonly conditioning: ConditioningParams;
  readonly ticksPerFrame: number;
  readonly #physics: PhysicsWorld;
  readonly #character: Character;
  readonly #input: CharacterInput = { keys: 0, lookX: 0, lookY: 0 };
  readonly #dt: number;
  #freed = false;

  private constructor(
    readonly space: ActionSpace,
    readonly framesPerBlock: number,
    physics: PhysicsWorld,
    spawn: number,
    ticksPerFrame: number,
    fps: number,
    o: WorldDriverOptions,
  ) {
    this.#physics = physics;
    this.level = physics.level;
    this.spawn = spawn;
    this.ticksPerFrame = ticksPerFrame;
    this.#dt = 1 / (fps * ticksPerFrame);
    this.conditioning = conditioningParams(physics.params, { keyThreshold: o.keyThreshold, map: o.actionMap, view: { level: physics.level, latent: o.latent } });
    this.#character = physics.addCharacter(physics.level.spawns[spawn]!);
  }

  /**
   * A driver for a model's action space, `fps` latent frames per second of world time and
   * blocks of `framesPerBlock` frames (config.json's `action`, `latent_fps`,
   * `num_frame_per_block`).
   */
  static async create(space: ActionSpace, fps: number, framesPerBlock: number, o: WorldDriverOptions): Promise<WorldDriver> {
    checkGeometrySpace(space);
    const level = o.level ?? defaultLevel;
    const n = level.spawns.length;
    const spawn = o.spawn ?? 0;
    if (!Number.isInteger(spawn) || spawn < 0 || spawn >= n) throw new ArgumentError(`spawn must be an integer in [0, ${n - 1}] (level "${level.name}" has ${n} spawn points), not ${spawn}`, 'ARGUMENT');
    if (!(fps > 0)) throw new ArgumentError(`the frame rate must be positive, not ${fps}`, 'ARGUMENT');
    if (!Number.isInteger(framesPerBlock) || framesPerBlock < 1) throw new ArgumentError(`frames per block must be a positive integer, not ${framesPerBlock}`, 'ARGUMENT');
    const tickRate = o.tickRate ?? 30;
    const ticksPerFrame = tickRate / fps;
    if (!Number.isInteger(ticksPerFrame) || ticksPerFrame < 1) throw new ArgumentError(`tickRate ${tickRate} must be a positive multiple of the model's ${fps} latent frames/s`, 'ARGUMENT');
    const physics = await PhysicsWorld.create(level, o.character);
    return new WorldDriver(space, framesPerBlock, physics, spawn, ticksPerFrame, fps, o);
  }

  /** The character's pose now. */
  pose(): Pose {
    return this.#character.pose();
  }

  /**
   * The inputs of an opening's frames: the character standing at its spawn point (as the
   * room gives them). An opening is committed, not decoded: no decoder map.
   */
  openingActions(): ActionInput {
    return poseInputs(spawnPose(this.level.spawns[this.spawn]!), { ...this.space, frameGeometry: undefined }, this.conditioning);
  }

  /**
   * Hold `held` (checked with {@link checkHeldInput} first) for one block of world time
   * (`frames` latent frames, `ticksPerFrame` ticks each) and return the block's conditioning
   * and the pose at the end of each frame.
   */
  block(held: HeldInput, frames = this.framesPerBlock): DrivenBlock {
    if (this.#freed) throw new ArgumentError('the world driver was freed', 'ARGUMENT');
    const c = heldControl(held, this.space, this.conditioning);
    const ticks: TickMotion[] = [];
    this.#input.keys = c.keys;
    for (let i = 0; i < frames * this.ticksPerFrame; i++) {
      this.#input.lookX += c.turnRate * this.#dt;
      this.#input.lookY += c.pitchRate * this.#dt;
      ticks.push(this.#character.step(this.#input, this.#dt));
      this.#physics.step(this.#dt);
    }
    const cond = motionToConditioning(ticks, frames, this.space, this.conditioning, this.pose());
    const poses = Array.from({ length: frames }, (_, f) => ticks[(f + 1) * this.ticksPerFrame - 1]!.pose);
    return { ...cond, poses };
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#physics.free();
  }
}

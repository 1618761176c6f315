/**
 * Dataset generator for the default world model: episodes of a physics character walking
 * through a level, rendered by the ground-truth software renderer, with the exact action
 * conditioning the game server would compute from the same motion.
 *
 *   npm run dataset -- --out data/world --episodes N --frames T --seed S [--size 128] [--workers 2] [--level file.json]
 *
 * Video at 15 frames/s, physics at 30 Hz (2 ticks per frame, each `Character.step(input,
 * 1/30)` then `PhysicsWorld.step(1/30)`, as the room's tick does). Frame 0 of an episode is
 * the exact spawn pose (a level spawn's position and yaw, pitch 0) with an all-zero action;
 * frame f ≥ 1 runs its 2 ticks with the policy's input, then renders, and its action is
 * `encodeActions([frameAction(groupMotion(ticks, 1)[0], space, params)], space, 1)`: the
 * game server's conditioning path with the room's default parameters.
 *
 * Output (little-endian raw arrays, episodes concatenated in order; N = total frames):
 *   frames.u8   uint8   [N, H, W, 3]
 *   actions.f32 float32 [N, 7]    (w a s d space dx dy)
 *   poses.f32   float32 [N, 5]    (foot x y z, yaw, pitch)
 *   prompts.u8  uint8   [N]       (index into PROMPTS)
 *   geometry.f32 float32 [N, 8, H/8, W/8] (renderGeometry of each frame's pose at the latent size)
 *   meta.json
 *
 * `npm run dataset -- --frame-geometry D [--samples S] --out DIR` writes frame_geometry.f32 (a
 * geometry decoder's map at the frames' size / D, S×S rays a pixel, default 1).
 * `npm run dataset -- --geometry --out DIR` (re)writes geometry.f32 of an existing dataset
 * from its poses.f32 and meta.json.
 * Each episode depends only on (seed, episode id), so any --workers gives the same bytes.
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

import { encodeActions, type Pose } from '../../sdk/src/actions.js';
import { conditioningParams, frameAction, groupMotion } from '../../world/src/conditioning.js';
import { defaultLevel, defaultWorldActionSpace, loadLevelFile, type Level, type LevelSpawn } from '../../world/src/levels/index.js';
import { PhysicsWorld, defaultCharacterParams, type Character, type CharacterInput, type TickMotion } from '../../world/src/physics.js';
import { KEY_BITS } from '../../world/src/keys.js';
import { Rng } from '../../world/src/rng.js';
import { CHARACTER_COLORS, EYE_HEIGHT, GEOMETRY_CHANNELS, GEOMETRY_DEFAULTS, PROMPTS, castRay, eyeFromCharacter, renderGeometry, renderView, type CharacterShape, type GeometryOptions } from '../../world/src/render.js';
import { Walker } from '../../world/src/walkers.js';

export { Rng };

export const FPS = 15;
export const TICK_RATE = 30;
export const TICKS_PER_FRAME = TICK_RATE / FPS;

export type PolicyName = 'random' | 'explorer' | 'idle';

export interface DatasetOptions {
  out: string;
  episodes: number;
  frames: number;
  seed: number;
  /** Square frame size in pixels (default 128). */
  size?: number;
  workers?: number;
  level?: Level;
  /** Progress lines to stderr (default true). */
  progress?: boolean;
  /**
   * Other characters in the episodes (default false: the dataset as before, byte for byte):
   * each episode gets 0–3 walkers — crossing in front of the spawn view, walking towards
   * or away from it, or standing still — drawn from its own RNG stream; their poses go to
   * others.f32 and they are in the frames and the geometry maps.
   */
  characters?: boolean;
}

/** Most other characters an episode has (slots of others.f32). */
export const MAX_OTHERS = 3;
/** Floats per slot of others.f32: present (0/1), foot x, y, z, yaw. */
export const OTHER_FLOATS = 5;
/** How another character of an episode moves, relative to the spawn's view. */
export type OtherKind = 'cross' | 'towards' | 'away' | 'still';

/** Another character of an episode: how it moves and its colour (CHARACTER_COLORS index). */
export interface OtherPlan {
  kind: OtherKind;
  /** Its waypoints [x, z] (walked in a loop; one for 'still'). */
  path: [number, number][];
  color: number;
}

export interface EpisodeMeta {
  id: number;
  /** Index of the episode's first frame in the arrays. */
  start: number;
  frames: number;
  spawn: LevelSpawn & { index: number };
  policy: PolicyName;
  promptSwitchAt: number | null;
  /** Its other characters (datasets made with `characters`; others.f32 has their poses). */
  others?: OtherPlan[];
}

export interface DatasetMeta {
  version: 1;
  width: number;
  height: number;
  fps: number;
  tickRate: number;
  eyeHeight: number;
  prompts: string[];
  actionSpace: typeof defaultWorldActionSpace;
  level: string;
  seed: number;
  episodes: EpisodeMeta[];
  totalFrames: number;
  /** Made with other characters: others.f32 holds [MAX_OTHERS × OTHER_FLOATS] per frame. */
  characters?: boolean;
  /** geometry.f32's map: [GEOMETRY_CHANNELS, height, width] per frame, sampled with these options. */
  geometry?: { channels: number; height: number; width: number; samples: number; near: number };
  /** frame_geometry.f32's map (`--frame-geometry D`): a geometry decoder's, at the frames' size / D. */
  frameGeometry?: { channels: number; height: number; width: number; samples: number; near: number };
}

export interface EpisodeData {
  meta: Omit<EpisodeMeta, 'start'>;
  frames: Uint8Array;
  actions: Float32Array;
  poses: Float32Array;
  prompts: Uint8Array;
  /** With other characters: [frames × MAX_OTHERS × OTHER_FLOATS]. */
  others?: Float32Array;
}

/** The other characters' shapes at a frame of others.f32 (its rows for that frame). */
export function otherShapes(rows: Float32Array, colors: readonly number[]): CharacterShape[] {
  const out: CharacterShape[] = [];
  for (let j = 0; j < MAX_OTHERS; j++) {
    const o = j * OTHER_FLOATS;
    if (rows[o] !== 1) continue;
    const { radius, halfHeight } = defaultCharacterParams; // the walkers' capsule (the episode's world uses the defaults)
    out.push({ x: rows[o + 1]!, y: rows[o + 2]!, z: rows[o + 3]!, yaw: rows[o + 4]!, radius, height: 2 * (halfHeight + radius), color: CHARACTER_COLORS[colors[j]! % CHARACTER_COLORS.length]! });
  }
  return out;
}

/**
 * The other characters of episode `id` (0–3), from a stream of their own so the rest of
 * the episode's plan is what it is without them: where each walks relative to the spawn's
 * view (forward f, right r): across in front, towards or away along the view, or still.
 */
export function planOthers(spawn: LevelSpawn, seed: number, id: number): OtherPlan[] {
  const rng = new Rng(seed, id ^ 0x2c1b3c6d);
  const n = rng.int(MAX_OTHERS + 1);
  const yaw = spawn.yaw ?? 0;
  const [px, , pz] = spawn.position;
  const f = [-Math.sin(yaw), -Math.cos(yaw)];
  const r = [Math.cos(yaw), -Math.sin(yaw)];
  const at = (ahead: number, side: number): [number, number] => [px + f[0]! * ahead + r[0]! * side, pz + f[1]! * ahead + r[1]! * side];
  const kinds: OtherKind[] = ['cross', 'towards', 'away', 'still'];
  const out: OtherPlan[] = [];
  for (let j = 0; j < n; j++) {
    const kind = kinds[rng.int(kinds.length)]!;
    const ahead = rng.range(3, 8);
    const side = rng.range(-2, 2);
    const half = rng.range(2.5, 5);
    const path =
      kind === 'cross' ? [at(ahead, -half), at(ahead, half)] : kind === 'towards' ? [at(ahead + 3, side), at(1.5, side)] : kind === 'away' ? [at(1.5, side), at(ahead + 3, side)] : [at(ahead, side)];
    out.push({ kind, path, color: j });
  }
  return out;
}

/** The character's pose at episode frame k (poses.f32's row: foot x y z, yaw, pitch). */
export function episodePose(ep: EpisodeData, k: number): Pose {
  const p = ep.poses.subarray(k * 5, k * 5 + 5);
  return { x: p[0]!, y: p[1]!, z: p[2]!, yaw: p[3]!, pitch: p[4]! };
}

// ------------------------------------------------------------------ policies

/** What a policy asks for over one video frame. */
interface FrameControl {
  keys: number;
  /** rad/s, > 0 turns right. */
  turnRate: number;
  /** rad/s, > 0 looks down. */
  pitchRate: number;
}

interface PolicyState {
  rng: Rng;
  level: Level;
  maxTurnRate: number;
}

const { w: W, a: A, s: S, d: D, space: SPACE } = KEY_BITS;
const secs = (rng: Rng, a: number, b: number): number => Math.max(1, Math.round(rng.range(a, b) * FPS));
const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/** Pitch toward a target at a bounded rate (the look-down axis is positive). */
function pitchToward(c: Character, target: number, maxRate: number): number {
  return clamp((c.pitch - target) * 4, -maxRate, maxRate);
}

abstract class Policy {
  protected readonly rng: Rng;
  protected readonly level: Level;
  protected readonly maxTurn: number;
  protected pitchTarget = 0;
  constructor(s: PolicyState) {
    this.rng = s.rng;
    this.level = s.level;
    this.maxTurn = s.maxTurnRate;
  }
  abstract frame(c: Character, blocked: boolean): FrameControl;
  /** Occasional small pitch changes within ±0.4 rad, drifting back to 0. */
  protected pitch(c: Character, p: number): number {
    if (this.rng.chance(p)) this.pitchTarget = this.rng.range(-0.4, 0.4);
    else this.pitchTarget *= 0.95;
    return pitchToward(c, this.pitchTarget, this.maxTurn / 2);
  }
  /** Free distance ahead (m) at waist height in direction `yaw`. */
  protected free(c: Character, yaw: number): number {
    const [fx, fz] = c.forwardVector(yaw);
    return castRay(this.level, c.x, c.y + 0.5, c.z, fx, 0, fz);
  }
}

/** Random key combos and smooth random turning. */
class RandomPolicy extends Policy {
  #keys = 0;
  #keysLeft = 0;
  #turn = 0;
  #turnTarget = 0;
  #turnLeft = 0;
  frame(c: Character): FrameControl {
    const r = this.rng;
    if (this.#keysLeft-- <= 0) {
      const u = r.next();
      this.#keys =
        u < 0.5 ? W : u < 0.6 ? W | A : u < 0.7 ? W | D : u < 0.76 ? A : u < 0.82 ? D : u < 0.88 ? S : u < 0.95 ? 0 : u < 0.98 ? W | SPACE : SPACE;
      this.#keysLeft = secs(r, 0.3, 2);
    }
    if (this.#turnLeft-- <= 0) {
      this.#turnTarget = r.chance(0.35) ? 0 : r.range(-1, 1) * (this.maxTurn / 2);
      this.#turnLeft = secs(r, 0.3, 2);
    }
    this.#turn += (this.#turnTarget - this.#turn) * 0.25;
    return { keys: this.#keys, turnRate: this.#turn, pitchRate: this.pitch(c, 0.03) };
  }
}

/** Walk forward, wander a little, turn away from walls, look around now and then. */
class ExplorerPolicy extends Policy {
  #mode: 'walk' | 'turn' | 'look' = 'walk';
  #left = 0;
  #turn = 0;
  #wander = 0;
  #wanderLeft = 0;
  #keys: number = W;
  frame(c: Character, blocked: boolean): FrameControl {
    const r = this.rng;
    const half = this.maxTurn / 2;
    if (this.#mode === 'walk') {
      if (blocked || this.free(c, c.yaw) < 1.6) {
        const left = this.free(c, c.yaw + 0.9);
        const right = this.free(c, c.yaw - 0.9);
        const dir = Math.abs(left - right) < 0.5 ? (r.chance(0.5) ? 1 : -1) : left > right ? -1 : 1; // turnRate > 0 turns right
        this.#mode = 'turn';
        this.#turn = dir * half;
        this.#left = Math.max(2, Math.round((r.range(0.8, 2.2) / half) * FPS));
        this.#keys = r.chance(0.5) ? W : 0;
      } else if (r.chance(0.012)) {
        this.#mode = 'look';
        this.#left = secs(r, 1, 3);
        this.#turn = (r.chance(0.5) ? 1 : -1) * r.range(0.3, 1) * half;
        this.pitchTarget = r.range(-0.4, 0.4);
      }
    }
    if (this.#mode === 'turn' || this.#mode === 'look') {
      if (this.#left-- <= 0) {
        this.#mode = 'walk';
        this.#keys = W;
      } else if (this.#mode === 'look') {
        if (r.chance(0.06)) this.#turn = -this.#turn;
        return { keys: 0, turnRate: this.#turn, pitchRate: pitchToward(c, this.pitchTarget, half) };
      } else {
        return { keys: this.#keys, turnRate: this.#turn, pitchRate: this.pitch(c, 0) };
      }
    }
    if (this.#wanderLeft-- <= 0) {
      this.#wander = r.chance(0.4) ? 0 : r.range(-0.25, 0.25) * half;
      this.#wanderLeft = secs(r, 0.5, 2);
    }
    return { keys: W | (r.chance(0.004) ? SPACE : 0), turnRate: this.#wander, pitchRate: this.pitch(c, 0.015) };
  }
}

/** Standing still, turning in place, looking up and down, short walks. */
class IdlePolicy extends Policy {
  #left = 0;
  #keys = 0;
  #turn = 0;
  frame(c: Character): FrameControl {
    const r = this.rng;
    const half = this.maxTurn / 2;
    if (this.#left-- <= 0) {
      const u = r.next();
      this.#left = secs(r, 1, 3);
      this.pitchTarget = 0;
      if (u < 0.35) {
        this.#keys = 0; // stand still
        this.#turn = 0;
      } else if (u < 0.75) {
        this.#keys = 0; // turn in place
        this.#turn = (r.chance(0.5) ? 1 : -1) * r.range(0.3, 1) * half;
      } else if (u < 0.9) {
        this.#keys = 0; // look up or down
        this.#turn = 0;
        this.pitchTarget = r.range(-0.4, 0.4);
      } else {
        this.#keys = W; // a short walk
        this.#turn = 0;
        this.#left = secs(r, 0.5, 1.5);
      }
    }
    return { keys: this.#keys, turnRate: this.#turn, pitchRate: pitchToward(c, this.pitchTarget, half) };
  }
}

// ------------------------------------------------------------------ episodes


/** What an episode will be (spawn, policy, prompts), known without simulating or rendering it. */
export interface EpisodePlan {
  id: number;
  frames: number;
  spawnIndex: number;
  policy: PolicyName;
  prompt0: number;
  /** Frame from which `prompt1` holds, or null for no switch. */
  switchAt: number | null;
  prompt1: number;
}

/** The plan of episode `id` (the draws of its own RNG; the policy has another). */
export function planEpisode(level: Level, seed: number, id: number, frames: number): EpisodePlan {
  const rng = new Rng(seed, id);
  const spawnIndex = rng.int(level.spawns.length);
  const u = rng.next();
  const policy: PolicyName = u < 0.45 ? 'random' : u < 0.85 ? 'explorer' : 'idle';
  const prompt0 = rng.int(PROMPTS.length);
  let switchAt: number | null = null;
  let prompt1 = prompt0;
  if (rng.chance(0.3) && frames >= 2) {
    switchAt = 1 + rng.int(frames - 1);
    prompt1 = (prompt0 + 1 + rng.int(PROMPTS.length - 1)) % PROMPTS.length;
  }
  return { id, frames, spawnIndex, policy, prompt0, switchAt, prompt1 };
}

/** One episode; its content depends only on (level, seed, id, frames, size). */
export async function generateEpisode(level: Level, seed: number, id: number, frames: number, size: number, characters = false): Promise<EpisodeData> {
  const { spawnIndex, policy: policyName, prompt0, switchAt, prompt1 } = planEpisode(level, seed, id, frames);
  const spawn = level.spawns[spawnIndex]!;
  const othersPlan = characters ? planOthers(spawn, seed, id) : undefined;

  const space = defaultWorldActionSpace;
  const nAct = space.keys.length + space.mouse.length;
  const frameBytes = size * size * 3;
  const data: EpisodeData = {
    meta: { id, frames, spawn: { index: spawnIndex, position: [...spawn.position], yaw: spawn.yaw ?? 0 }, policy: policyName, promptSwitchAt: switchAt },
    frames: new Uint8Array(frames * frameBytes),
    actions: new Float32Array(frames * nAct),
    poses: new Float32Array(frames * 5),
    prompts: new Uint8Array(frames),
  };
  if (othersPlan) {
    data.meta.others = othersPlan;
    data.others = new Float32Array(frames * MAX_OTHERS * OTHER_FLOATS);
  }

  const world = await PhysicsWorld.create(level);
  try {
    const ch = world.addCharacter(spawn);
    const walkers = (othersPlan ?? []).map((o) => new Walker(world, { path: o.path, pause: 0.5 }, CHARACTER_COLORS[o.color % CHARACTER_COLORS.length]!));
    const params = conditioningParams(world.params);
    const state: PolicyState = { rng: new Rng(seed, id ^ 0x5bd1e995), level, maxTurnRate: world.params.maxTurnRate };
    const policy = policyName === 'random' ? new RandomPolicy(state) : policyName === 'explorer' ? new ExplorerPolicy(state) : new IdlePolicy(state);
    const input: CharacterInput = { keys: 0, lookX: 0, lookY: 0 };
    const dt = 1 / TICK_RATE;
    let blocked = false;
    const ticks: TickMotion[] = [];
    for (let f = 0; f < frames; f++) {
      let pose: [number, number, number, number, number];
      if (f === 0) {
        pose = [spawn.position[0], spawn.position[1], spawn.position[2], spawn.yaw ?? 0, 0];
      } else {
        const ctl = policy.frame(ch, blocked);
        ticks.length = 0;
        for (let k = 0; k < TICKS_PER_FRAME; k++) {
          input.keys = ctl.keys;
          input.lookX += ctl.turnRate * dt;
          input.lookY += ctl.pitchRate * dt;
          const m = ch.step(input, dt);
          ticks.push(m);
          for (const w of walkers) w.step(dt);
          world.step(dt);
        }
        blocked = ticks.some((m) => m.blocked);
        const action = frameAction(groupMotion(ticks, 1)[0]!, space, params);
        data.actions.set(encodeActions([action], space, 1), f * nAct);
        pose = [ch.x, ch.y, ch.z, ch.yaw, ch.pitch];
      }
      data.poses.set(pose, f * 5);
      const prompt = switchAt !== null && f >= switchAt ? prompt1 : prompt0;
      data.prompts[f] = prompt;
      const cam = eyeFromCharacter({ x: pose[0], y: pose[1], z: pose[2], yaw: pose[3], pitch: pose[4] });
      let shapes: CharacterShape[] | undefined;
      if (data.others) {
        const rows = data.others.subarray(f * MAX_OTHERS * OTHER_FLOATS, (f + 1) * MAX_OTHERS * OTHER_FLOATS);
        walkers.forEach((w, j) => rows.set([1, w.character.x, w.character.y, w.character.z, w.character.yaw], j * OTHER_FLOATS));
        shapes = otherShapes(rows, othersPlan!.map((o) => o.color));
      }
      renderView(level, cam, PROMPTS[prompt]!, size, size, data.frames.subarray(f * frameBytes, (f + 1) * frameBytes), shapes);
    }
  } finally {
    world.free();
  }
  return data;
}

// ------------------------------------------------------------------ dataset

interface WorkerJob {
  level: Level;
  seed: number;
  frames: number;
  size: number;
  characters: boolean;
}

const WORKER_TAG = 'worldcast-dataset-worker';

if (!isMainThread && (workerData as { tag?: string } | null)?.tag === WORKER_TAG) {
  const job = (workerData as { job: WorkerJob }).job;
  parentPort!.on('message', (id: number) => {
    generateEpisode(job.level, job.seed, id, job.frames, job.size, job.characters).then(
      (e) => parentPort!.postMessage({ ok: true, e }, [e.frames.buffer, e.actions.buffer, e.poses.buffer, e.prompts.buffer, ...(e.others ? [e.others.buffer] : [])] as ArrayBuffer[]),
      (err: unknown) => parentPort!.postMessage({ ok: false, id, error: String((err as Error)?.stack ?? err) }),
    );
  });
}

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer (got ${v})`);
  return v;
}

/** Generate a dataset into `opts.out`; resolves with its meta.json content. */
export async function generateDataset(opts: DatasetOptions): Promise<DatasetMeta> {
  if (endianness() !== 'LE') throw new Error('the dataset format is little-endian; this host is not');
  const episodes = positiveInt(opts.episodes, 'episodes');
  const frames = positiveInt(opts.frames, 'frames');
  const size = positiveInt(opts.size ?? 128, 'size');
  const workers = Math.min(positiveInt(opts.workers ?? 1, 'workers'), episodes);
  if (!Number.isSafeInteger(opts.seed) || opts.seed < 0) throw new Error('seed must be a non-negative integer');
  const level = opts.level ?? defaultLevel;
  const progress = opts.progress ?? true;
  mkdirSync(opts.out, { recursive: true });
  const fds = {
    frames: openSync(join(opts.out, 'frames.u8'), 'w'),
    actions: openSync(join(opts.out, 'actions.f32'), 'w'),
    poses: openSync(join(opts.out, 'poses.f32'), 'w'),
    prompts: openSync(join(opts.out, 'prompts.u8'), 'w'),
    ...(opts.characters ? { others: openSync(join(opts.out, 'others.f32'), 'w') } : {}),
  };
  const metas: EpisodeMeta[] = [];
  let written = 0;
  const t0 = performance.now();
  let lastReport = 0;
  const write = (e: EpisodeData): void => {
    const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    writeSync(fds.frames, bytes(e.frames));
    writeSync(fds.actions, bytes(e.actions));
    writeSync(fds.poses, bytes(e.poses));
    writeSync(fds.prompts, bytes(e.prompts));
    if (fds.others !== undefined) writeSync(fds.others, bytes(e.others!));
    metas.push({ ...e.meta, start: written * frames });
    written++;
    const now = performance.now();
    if (progress && (now - lastReport > 1000 || written === episodes)) {
      lastReport = now;
      const fps = (written * frames) / ((now - t0) / 1000);
      process.stderr.write(`dataset: episodes ${written}/${episodes}, frames ${written * frames}, ${fps.toFixed(1)} frames/s\n`);
    }
  };
  try {
    if (workers === 1) {
      for (let id = 0; id < episodes; id++) write(await generateEpisode(level, opts.seed, id, frames, size, opts.characters ?? false));
    } else {
      await runWorkers({ level, seed: opts.seed, frames, size, characters: opts.characters ?? false }, episodes, workers, write);
    }
  } finally {
    for (const fd of Object.values(fds)) closeSync(fd);
  }
  const meta: DatasetMeta = {
    version: 1,
    width: size,
    height: size,
    fps: FPS,
    tickRate: TICK_RATE,
    eyeHeight: EYE_HEIGHT,
    prompts: [...PROMPTS],
    actionSpace: defaultWorldActionSpace,
    level: level.name,
    seed: opts.seed,
    episodes: metas,
    totalFrames: episodes * frames,
    ...(opts.characters ? { characters: true } : {}),
  };
  writeFileSync(join(opts.out, 'meta.json'), JSON.stringify(meta, null, 1) + '\n');
  return writeGeometry(opts.out, { level, progress });
}

/** The geometry map size of a dataset: the latent size of the default autoencoder (8× down). */
export const GEOMETRY_DOWNSAMPLE = 8;

/**
 * Write `dir`/geometry.f32: each frame's {@link renderGeometry} map at its pose, at the
 * frames' size / {@link GEOMETRY_DOWNSAMPLE}, and record it in meta.json. Reads the
 * dataset's meta.json and poses.f32; returns the updated meta.
 *
 * With `opts.frame`, the map a geometry-conditioned decoder reads instead (a decoder
 * config's `geometry`): at the frames' size / `opts.downsample`, into frame_geometry.f32,
 * recorded as meta.json's `frameGeometry`.
 */
export function writeGeometry(dir: string, opts: { level?: Level; progress?: boolean; frame?: boolean; downsample?: number } & GeometryOptions = {}): DatasetMeta {
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as DatasetMeta;
  const level = opts.level ?? defaultLevel;
  if (meta.level !== level.name) throw new Error(`dataset level "${meta.level}" is not "${level.name}" (pass --level)`);
  const buf = readFileSync(join(dir, 'poses.f32'));
  const poses = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  if (poses.length !== meta.totalFrames * 5) throw new Error(`poses.f32 holds ${poses.length / 5} poses; meta.json says ${meta.totalFrames} frames`);
  const down = opts.downsample ?? GEOMETRY_DOWNSAMPLE;
  const gh = meta.height / down;
  const gw = meta.width / down;
  if (!Number.isInteger(gh) || !Number.isInteger(gw)) throw new Error(`frame size ${meta.width}x${meta.height} is not a multiple of ${down}`);
  const samples = opts.samples ?? GEOMETRY_DEFAULTS.samples;
  const near = opts.near ?? GEOMETRY_DEFAULTS.near;
  const per = GEOMETRY_CHANNELS * gh * gw;
  const chunk = new Float32Array(per * 256);
  // other characters (datasets made with them): each frame's shapes, with its episode's colours
  let others: Float32Array | undefined;
  const colorsAt: (readonly number[])[] = [];
  if (meta.characters) {
    const ob = readFileSync(join(dir, 'others.f32'));
    others = new Float32Array(ob.buffer, ob.byteOffset, ob.byteLength / 4);
    if (others.length !== meta.totalFrames * MAX_OTHERS * OTHER_FLOATS) throw new Error(`others.f32 holds ${others.length} floats; meta.json says ${meta.totalFrames} frames`);
    for (const e of meta.episodes) for (let k = 0; k < e.frames; k++) colorsAt[e.start + k] = (e.others ?? []).map((o) => o.color);
  }
  const rowsAt = (fr: number) => others!.subarray(fr * MAX_OTHERS * OTHER_FLOATS, (fr + 1) * MAX_OTHERS * OTHER_FLOATS);
  const file = opts.frame ? 'frame_geometry.f32' : 'geometry.f32';
  const fd = openSync(join(dir, file), 'w');
  const t0 = performance.now();
  try {
    for (let f0 = 0; f0 < meta.totalFrames; f0 += 256) {
      const n = Math.min(256, meta.totalFrames - f0);
      for (let i = 0; i < n; i++) {
        const o = (f0 + i) * 5;
        const cam = eyeFromCharacter({ x: poses[o]!, y: poses[o + 1]!, z: poses[o + 2]!, yaw: poses[o + 3]!, pitch: poses[o + 4]! });
        const characters = others ? otherShapes(rowsAt(f0 + i), colorsAt[f0 + i] ?? []) : undefined;
        renderGeometry(level, cam, gw, gh, { samples, near, characters }, chunk.subarray(i * per, (i + 1) * per));
      }
      writeSync(fd, new Uint8Array(chunk.buffer, 0, n * per * 4));
      if (opts.progress ?? true) process.stderr.write(`\r${file}: ${f0 + n}/${meta.totalFrames} frames, ${((f0 + n) / ((performance.now() - t0) / 1000)).toFixed(0)} frames/s`);
    }
    if (opts.progress ?? true) process.stderr.write('\n');
  } finally {
    closeSync(fd);
  }
  const g = { channels: GEOMETRY_CHANNELS, height: gh, width: gw, samples, near };
  if (opts.frame) meta.frameGeometry = g;
  else meta.geometry = g;
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta, null, 1) + '\n');
  return meta;
}

/** file: URL of tsx's ESM loader API (its `require` export resolves next to it). */
function tsxEsmApi(): string {
  const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
  return pathToFileURL(join(dirname(cjs), 'index.mjs')).href;
}

/** Episodes over worker threads, handed out in order; results written in episode order. */
function runWorkers(job: WorkerJob, episodes: number, n: number, write: (e: EpisodeData) => void): Promise<void> {
  const file = fileURLToPath(import.meta.url);
  // Run from TypeScript (tsx, vitest): the worker registers tsx's loader, then imports this file
  // (Node 20 workers do not apply `--import tsx` hooks to their entry module).
  const entry = file.endsWith('.ts')
    ? `import(${JSON.stringify(tsxEsmApi())}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); });`
    : file;
  return new Promise((resolvePromise, reject) => {
    const pool: Worker[] = [];
    const pending = new Map<number, EpisodeData>();
    let next = 0;
    let nextWrite = 0;
    let failed = false;
    const window = n * 3; // at most this many episodes ahead of the writer
    const finish = (err?: unknown): void => {
      if (failed) return;
      if (err) failed = true;
      for (const w of pool) void w.terminate();
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolvePromise();
    };
    const dispatch = (w: Worker): boolean => {
      if (next >= episodes || next >= nextWrite + window) return false;
      w.postMessage(next++);
      return true;
    };
    const idle: Worker[] = [];
    for (let i = 0; i < n; i++) {
      const w = new Worker(entry, { eval: entry !== file, workerData: { tag: WORKER_TAG, job } });
      pool.push(w);
      w.on('error', (e) => finish(e));
      w.on('message', (msg: { ok: true; e: EpisodeData } | { ok: false; id: number; error: string }) => {
        if (failed) return;
        if (!msg.ok) return finish(new Error(`episode ${msg.id}: ${msg.error}`));
        pending.set(msg.e.meta.id, msg.e);
        try {
          while (pending.has(nextWrite)) {
            write(pending.get(nextWrite)!);
            pending.delete(nextWrite++);
          }
        } catch (e) {
          return finish(e);
        }
        if (nextWrite === episodes) return finish();
        if (!dispatch(w)) idle.push(w);
        while (idle.length > 0 && dispatch(idle[0]!)) idle.shift();
      });
      if (!dispatch(w)) idle.push(w);
    }
  });
}

// ------------------------------------------------------------------ CLI

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      episodes: { type: 'string', default: '10' },
      frames: { type: 'string', default: '150' },
      seed: { type: 'string', default: '0' },
      size: { type: 'string', default: '128' },
      workers: { type: 'string', default: '1' },
      level: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      geometry: { type: 'boolean', default: false },
      'frame-geometry': { type: 'string' },
      samples: { type: 'string' },
      characters: { type: 'boolean', default: false },
    },
  });
  if (values.geometry || values['frame-geometry'] !== undefined) {
    if (!values.out) throw new Error('usage: npm run dataset -- --geometry | --frame-geometry DOWNSAMPLE [--samples S] --out DIR [--level file.json]');
    const frame = values['frame-geometry'] !== undefined;
    const downsample = frame ? Number(values['frame-geometry']) : undefined;
    const samples = values.samples !== undefined ? Number(values.samples) : frame ? 1 : undefined;
    if (downsample !== undefined && !(Number.isInteger(downsample) && downsample >= 1)) throw new Error('--frame-geometry takes a positive integer (the frames\' size / the map\'s)');
    const meta = writeGeometry(values.out, { level: values.level ? loadLevelFile(values.level) : undefined, progress: !values.quiet, frame, downsample, samples });
    process.stderr.write(`dataset: wrote ${frame ? 'frame_geometry' : 'geometry'}.f32 (${meta.totalFrames} frames) to ${resolve(values.out)}\n`);
    return;
  }
  if (!values.out) throw new Error('usage: npm run dataset -- --out DIR [--episodes N] [--frames T] [--seed S] [--size 128] [--workers 1] [--level file.json] [--characters]');
  const meta = await generateDataset({
    out: values.out,
    episodes: Number(values.episodes),
    frames: Number(values.frames),
    seed: Number(values.seed),
    size: Number(values.size),
    workers: Number(values.workers),
    level: values.level ? loadLevelFile(values.level) : undefined,
    progress: !values.quiet,
    characters: values.characters,
  });
  process.stderr.write(`dataset: wrote ${meta.totalFrames} frames (${meta.episodes.length} episodes) to ${resolve(values.out)}\n`);
}

if (isMainThread && process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  });
}

/**
 * The machinery every environment shares: an {@link Agent} is one character in a rapier
 * world plus the engine session that shows what it sees; a {@link World} ticks the physics of
 * its agents together; {@link stepAgents} and {@link resetAgents} run any set of agents
 * (from one world or many) with one batched engine forward per denoising step
 * (`model.stepMany`). WorldEnv, VectorWorldEnv and MultiAgentWorldEnv are thin shapes over
 * these, so a vector env is n single envs by construction.
 *
 * Time: one env step is one latent frame ('frame' granularity) or one block of
 * `num_frame_per_block` latent frames ('block', the default). A latent frame lasts
 * 1/`latent_fps` s of world time (15 fps for the default world) and runs `tickRate / fps`
 * physics ticks (2 at 30 Hz). The action is held over the step's ticks; the model is
 * conditioned, per latent frame, on the motion physics allowed (the game server's
 * conditioning path: walking into a wall conditions as standing still).
 *
 * 'frame' granularity on a block model: frame j of a block must be shown before the actions
 * of frames j+1… exist, so the env denoises the block speculatively on a fork of the session
 * (pages shared, same noise) with the last action held for the unknown frames, shows frame j,
 * and drops the fork; the real session steps once the block's last action is in. Every
 * observation then reflects every action so far, at the cost of one block forward per frame.
 * For a model that takes the pose (or the geometry map), the held frames also hold the last
 * pose and map (physics has not run them yet), so frames before a block's last are previews
 * that may differ slightly from what 'block' granularity shows; the last frame of every
 * block is exactly the same.
 */
import { ArgumentError, ConfigError } from '../../sdk/src/errors.js';
import { encodeActions, encodeFrameGeometry, encodeGeometry, type ActionInput, type ActionSpace } from '../../sdk/src/actions.js';
import type { Frame, LatentBlock, Model, Session, SessionOptions } from '../../sdk/src/model.js';
import { TablePromptEncoder } from '../../sdk/src/prompts.js';
import { checkGeometrySpace, conditioningParams, frameAction, groupMotion, poseInputs, type ActionMap, type ConditioningParams } from '../../world/src/conditioning.js';
import { spawnPose, type Level } from '../../world/src/levels/index.js';
import { PhysicsWorld, defaultCharacterParams, type Character, type CharacterInput, type CharacterParams, type TickMotion } from '../../world/src/physics.js';
import { heldControl, type Control, type HeldInput } from '../../world/src/driver.js';
import { PROMPTS, eyeFromCharacter, renderView, type PromptName } from '../../world/src/render.js';
import { Rng } from '../../world/src/rng.js';
import { combineRewards, type Pose, type RewardFn } from './rewards.js';
import { Box, Dict, Discrete, MultiBinary, type BoxValue, type Space, type SpaceValue } from './spaces.js';

/** One env step: a block of latent frames (the model's step) or one latent frame. */
export type Granularity = 'block' | 'frame';
/** The action space: the model's keys and mouse axes (`'dict'`) or {@link DISCRETE_ACTIONS}. */
export type ActionType = 'dict' | 'discrete';

/** Options every environment takes. */
export interface EnvOptions {
  /** The level (default: the default world's yard). */
  level?: Level;
  /** Text prompt of each episode (default: the first of the model's prompt vocabulary, or none). */
  prompt?: string;
  /** One env step = one latent frame or one block (default 'block'). */
  granularity?: Granularity;
  /** 'dict' (default): `{keys: MultiBinary, mouse: Box}` from the model's action space; 'discrete': {@link DISCRETE_ACTIONS}. */
  actionType?: ActionType;
  /** Observation contents: the last frame of the step (default) or all of them, and the latents too. */
  observation?: ObservationOptions;
  /** Reward function(s) (summed); default none (reward 0, never terminated). */
  reward?: RewardFn | readonly RewardFn[];
  /** Steps after which an episode is truncated (default: none). */
  maxEpisodeSteps?: number;
  /** Spawn point index of each episode, or 'random' (default: drawn from the env's RNG). */
  spawn?: number | 'random';
  /** Put the ground-truth renderer's view in `info.truth` (default false). */
  renderTruth?: boolean;
  /** Session options (window, KV dtype, fold-commit, latent size). */
  session?: Pick<SessionOptions, 'localAttnSize' | 'sinkSize' | 'kvDtype' | 'foldCommit' | 'latentHeight' | 'latentWidth'>;
  /** Character dimensions and speeds (default: the game server's). */
  character?: Partial<CharacterParams>;
  /** Physics ticks per second (default 30); must be a multiple of the frame rate. */
  tickRate?: number;
  /** Which action names stand for which motion (default w a s d space, mouse dx dy). */
  actionMap?: ActionMap;
  /** A movement key conditions as pressed above this fraction of the walking speed (default 0.3, as the room). */
  keyThreshold?: number;
}

/** What an observation holds. */
export interface ObservationOptions {
  /** The last frame of the step (default) or all of them, stacked. */
  frames?: 'last' | 'all';
  /** Add the step's latents (C, F, H, W) (always there when the model has no decoder). */
  latents?: boolean;
}

/** One move of the discrete action set. */
export interface DiscreteAction {
  /** Its name. */
  name: string;
  /** Keys held (names of the default world's action space). */
  keys: readonly string[];
  /** Turn rate as a fraction of the largest (> 0 turns right). */
  turn: number;
  /** Pitch rate as a fraction of the largest (> 0 looks down). */
  pitch: number;
}

/** The discrete action set (`actionType: 'discrete'`): action i is entry i. */
export const DISCRETE_ACTIONS: readonly DiscreteAction[] = [
  { name: 'noop', keys: [], turn: 0, pitch: 0 },
  { name: 'forward', keys: ['w'], turn: 0, pitch: 0 },
  { name: 'back', keys: ['s'], turn: 0, pitch: 0 },
  { name: 'strafe_left', keys: ['a'], turn: 0, pitch: 0 },
  { name: 'strafe_right', keys: ['d'], turn: 0, pitch: 0 },
  { name: 'turn_left', keys: [], turn: -0.5, pitch: 0 },
  { name: 'turn_right', keys: [], turn: 0.5, pitch: 0 },
  { name: 'forward_left', keys: ['w'], turn: -0.25, pitch: 0 },
  { name: 'forward_right', keys: ['w'], turn: 0.25, pitch: 0 },
  { name: 'jump', keys: ['space'], turn: 0, pitch: 0 },
];


/** The env's geometry and spaces, fixed at creation. */
export class EnvSpec {
  readonly frames: number;
  readonly fps: number;
  readonly ticksPerFrame: number;
  readonly granularity: Granularity;
  readonly actionType: ActionType;
  readonly actionSpace: Space;
  readonly observationSpace: Space;
  readonly space: ActionSpace;
  readonly prompts: readonly string[];
  readonly conditioning: ConditioningParams;
  readonly framesPerStep: number;
  readonly imageShape: [number, number, number] | null;
  readonly latentShape: [number, number, number, number];
  readonly reward: RewardFn | null;
  readonly maxTurnRate: number;

  constructor(
    readonly model: Model,
    readonly opts: EnvOptions,
    readonly level: Level,
  ) {
    const c = model.config;
    if (!c.action) throw new ConfigError('an agent environment needs a model with an action space (config.json "action")', 'CONFIG');
    this.space = model.actionSpace ?? c.action; // the SDK's: with the map its decoder takes per frame, when it takes one
    if (c.schedule.type !== 'block')
      throw new ConfigError(
        `an agent environment needs the block schedule: this model's ${c.schedule.type} pipeline returns a block's frames ${c.schedule.window - 1} step(s) after its actions`,
        'CONFIG',
      );
    this.granularity = opts.granularity ?? 'block';
    if (this.granularity !== 'block' && this.granularity !== 'frame') throw new ArgumentError(`granularity must be 'block' or 'frame', not ${String(opts.granularity)}`, 'ARGUMENT');
    this.actionType = opts.actionType ?? 'dict';
    this.frames = c.num_frame_per_block;
    this.fps = c.latent_fps > 0 ? c.latent_fps : 15;
    const tickRate = opts.tickRate ?? 30;
    this.ticksPerFrame = tickRate / this.fps;
    if (!Number.isInteger(this.ticksPerFrame) || this.ticksPerFrame < 1) throw new ArgumentError(`tickRate ${tickRate} must be a positive multiple of the model's ${this.fps} latent frames/s`, 'ARGUMENT');
    if (opts.maxEpisodeSteps !== undefined && (!Number.isInteger(opts.maxEpisodeSteps) || opts.maxEpisodeSteps < 1)) throw new ArgumentError('maxEpisodeSteps must be a positive integer', 'ARGUMENT');
    checkGeometrySpace(model.actionSpace);
    const character = { ...defaultCharacterParams, ...opts.character };
    this.maxTurnRate = character.maxTurnRate;
    const h = opts.session?.latentHeight ?? c.latent_height;
    const w = opts.session?.latentWidth ?? c.latent_width;
    this.conditioning = conditioningParams(character, {
      keyThreshold: opts.keyThreshold,
      map: opts.actionMap,
      view: { level, latent: { height: h, width: w } }, // geometry-taking models' maps
    });
    this.prompts = model.promptEncoder instanceof TablePromptEncoder ? model.promptEncoder.prompts : [];

    if (this.actionType === 'discrete') {
      this.actionSpace = new Discrete(DISCRETE_ACTIONS.length);
    } else if (this.actionType === 'dict') {
      const parts: Record<string, Space> = { keys: new MultiBinary(Math.max(1, this.space.keys.length)) };
      if (this.space.mouse.length) parts.mouse = new Box(this.space.mouse.map((a) => a.min), this.space.mouse.map((a) => a.max), [this.space.mouse.length], 'float32');
      this.actionSpace = new Dict(parts);
    } else {
      throw new ArgumentError(`actionType must be 'dict' or 'discrete', not ${String(opts.actionType)}`, 'ARGUMENT');
    }

    const stepFrames = this.granularity === 'block' ? this.frames : 1;
    this.latentShape = [c.latent_channels, stepFrames, h, w];
    const dec = model.decoder?.config;
    const obsFrames = opts.observation?.frames ?? 'last';
    if (obsFrames !== 'last' && obsFrames !== 'all') throw new ArgumentError(`observation.frames must be 'last' or 'all'`, 'ARGUMENT');
    this.framesPerStep = dec ? stepFrames * dec.t_upscale : 0;
    this.imageShape = dec ? [h * dec.space_scale, w * dec.space_scale, dec.image_channels] : null;
    const parts: Record<string, Space> = {};
    if (this.imageShape) parts.frame = new Box(0, 255, obsFrames === 'all' ? [this.framesPerStep, ...this.imageShape] : this.imageShape, 'uint8');
    if (opts.observation?.latents || !this.imageShape) parts.latents = new Box(-Infinity, Infinity, this.latentShape, 'float32');
    this.observationSpace = Object.keys(parts).length === 1 ? Object.values(parts)[0]! : new Dict(parts);

    const r = opts.reward;
    this.reward = r === undefined ? null : typeof r === 'function' ? r : combineRewards(r);
    const n = level.spawns.length;
    if (opts.spawn !== undefined && opts.spawn !== 'random' && !(Number.isInteger(opts.spawn) && opts.spawn >= 0 && opts.spawn < n))
      throw new ArgumentError(`spawn must be 'random' or an integer in [0, ${n - 1}]`, 'ARGUMENT');
    if (opts.prompt !== undefined) this.checkPrompt(opts.prompt, 'prompt');
  }

  /** A text prompt the model's encoder knows (checked before anything is changed). */
  checkPrompt(prompt: string, where: string): void {
    const enc = this.model.promptEncoder;
    if (!enc) throw new ArgumentError(`${where}: this model has no prompt encoder`, 'ARGUMENT');
    if (enc instanceof TablePromptEncoder) enc.encode(prompt); // throws, naming the prompts it knows
  }

  /** The physics control of one (checked) action: the world's held-input mapping (world/src/driver.ts heldControl). */
  control(action: SpaceValue): Control {
    if (this.actionType === 'discrete') {
      const a = DISCRETE_ACTIONS[action as number]!;
      const c = heldControl({ keys: a.keys }, this.space, this.conditioning);
      return { keys: c.keys, turnRate: a.turn * this.maxTurnRate, pitchRate: a.pitch * this.maxTurnRate };
    }
    const d = action as { keys: Int8Array; mouse?: Float32Array };
    const held: HeldInput = {
      keys: this.space.keys.filter((_, i) => d.keys[i]),
      mouse: Object.fromEntries(this.space.mouse.map((ax, i) => [ax.name, d.mouse![i]!])),
    };
    return heldControl(held, this.space, { map: this.conditioning.map, maxTurnRate: this.maxTurnRate });
  }
}

/** Per-step information about an agent. */
export interface StepInfo {
  /** The true pose after the step. */
  pose: Pose;
  /** Env steps of the episode so far. */
  elapsedSteps: number;
  /** Latent frames of world time of the episode so far (reset's opening not counted). */
  frame: number;
  /** A wall or body took away most of the asked motion in some frame of the step. */
  blocked: boolean;
  /** The prompt in force. */
  prompt: string | null;
  /** Spawn point index of the episode. */
  spawn: number;
  /** Engine milliseconds from submitting the step's block to its frames (0 when none ran). */
  latencyMs: number;
  /** The ground-truth renderer's view of the true pose (HWC RGB), with `renderTruth`. */
  truth?: Uint8Array;
  /** What the reward functions reported (e.g. goalDistance). */
  [key: string]: unknown;
}

/** A physics world and the agents in it. */
export class World {
  readonly physics: PhysicsWorld;
  readonly agents: Agent[] = [];
  private constructor(
    readonly spec: EnvSpec,
    physics: PhysicsWorld,
  ) {
    this.physics = physics;
  }
  static async create(spec: EnvSpec): Promise<World> {
    return new World(spec, await PhysicsWorld.create(spec.level, spec.opts.character));
  }
  /** Run one latent frame of physics for the agents given (each with its control); the others stand still. */
  advanceFrame(controls: ReadonlyMap<Agent, Control>): Map<Agent, TickMotion[]> {
    const dt = 1 / (this.spec.fps * this.spec.ticksPerFrame);
    const out = new Map<Agent, TickMotion[]>();
    for (const a of this.agents) out.set(a, []);
    for (let k = 0; k < this.spec.ticksPerFrame; k++) {
      for (const a of this.agents) {
        if (!a.character) continue;
        const c = controls.get(a) ?? { keys: 0, turnRate: 0, pitchRate: 0 };
        a.input.keys = c.keys;
        a.input.lookX += c.turnRate * dt;
        a.input.lookY += c.pitchRate * dt;
        out.get(a)!.push(a.character.step(a.input, dt));
      }
      this.physics.step(dt);
    }
    return out;
  }
  free(): void {
    this.physics.free();
  }
}

/** What one step of one agent returns. */
export interface AgentStep {
  obs: SpaceValue;
  reward: number;
  terminated: boolean;
  truncated: boolean;
  info: StepInfo;
}

/** One character and its session. */
export class Agent {
  character: Character | null = null;
  session: Session | null = null;
  readonly input: CharacterInput = { keys: 0, lookX: 0, lookY: 0 };
  rng: Rng;
  spawn = 0;
  prompt: string | null = null;
  elapsedSteps = 0;
  frame = 0;
  /** The episode ended (terminated or truncated) and needs a reset. */
  done = false;
  /** Per-frame conditioning of the block being built ('frame' granularity). */
  pending: ActionInput[] = [];
  lastObs: SpaceValue | null = null;

  constructor(
    readonly name: string,
    readonly world: World,
    seed = 0,
  ) {
    this.rng = new Rng(seed);
    world.agents.push(this);
  }

  get spec(): EnvSpec {
    return this.world.spec;
  }

  /** The last observation's frame (HWC RGB): Gymnasium's `render()` in 'rgb_array' mode; null before reset or without frames. */
  lastFrame(): Uint8Array | null {
    const o = this.lastObs;
    if (o === null) return null;
    if (o instanceof Uint8Array) return o;
    const f = (o as Record<string, SpaceValue>).frame;
    return f instanceof Uint8Array ? f : null;
  }

  pose(): Pose {
    return this.character!.pose();
  }

  /**
   * The action space the frames of its session are conditioned in: its session's (with the
   * map the decoder takes per frame at the session's latent size, for a model whose decoder
   * takes one), the env's before the first reset.
   */
  get frameSpace(): ActionSpace {
    return this.session?.actionSpace ?? this.spec.space;
  }

  /** Frees the session (its KV pages) and takes the character out of the world. */
  async release(): Promise<void> {
    const s = this.session;
    this.session = null;
    if (this.character) this.world.physics.removeCharacter(this.character);
    this.character = null;
    this.pending = [];
    await s?.close();
  }
}

/** Options of a reset, per agent (Gymnasium's `options`). */
export interface ResetOptions {
  /** Spawn point index. */
  spawn?: number;
  /** The episode's prompt. */
  prompt?: string;
}

function checkResetOptions(o: unknown, spec: EnvSpec): ResetOptions {
  if (o === undefined || o === null) return {};
  if (typeof o !== 'object') throw new ArgumentError('reset options must be an object {spawn?, prompt?}', 'ARGUMENT');
  const { spawn, prompt, ...rest } = o as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length) throw new ArgumentError(`unknown reset option "${extra[0]}"; known: spawn, prompt`, 'ARGUMENT');
  const n = spec.level.spawns.length;
  if (spawn !== undefined && (typeof spawn !== 'number' || !Number.isInteger(spawn) || spawn < 0 || spawn >= n)) throw new ArgumentError(`reset option spawn must be an integer in [0, ${n - 1}]`, 'ARGUMENT');
  if (prompt !== undefined && typeof prompt !== 'string') throw new ArgumentError('reset option prompt must be a string', 'ARGUMENT');
  if (prompt !== undefined) spec.checkPrompt(prompt, 'reset option prompt');
  return { spawn: spawn as number | undefined, prompt: prompt as string | undefined };
}

/** Build an observation from a step's frames and latents. */
function observe(spec: EnvSpec, images: readonly Frame[], latents: Float32Array): SpaceValue {
  const parts: Record<string, SpaceValue> = {};
  if (spec.imageShape) {
    const [h, w, ch] = spec.imageShape;
    const one = h * w * ch;
    if (images.length === 0) throw new Error('internal: a step produced no frames');
    if (spec.opts.observation?.frames === 'all') {
      // A decoder that trims its stream's first frames gives fewer at the very start: repeat the first.
      const all = new Uint8Array(spec.framesPerStep * one);
      const pad = spec.framesPerStep - images.length;
      for (let i = 0; i < spec.framesPerStep; i++) all.set(images[Math.max(0, i - pad)]!.rgb.subarray(0, one), i * one);
      parts.frame = all;
    } else {
      parts.frame = new Uint8Array(images[images.length - 1]!.rgb.subarray(0, one));
    }
  }
  if (spec.opts.observation?.latents || !spec.imageShape) parts.latents = latents;
  const keys = Object.keys(parts);
  return keys.length === 1 ? parts[keys[0]!]! : parts;
}

/** Latent frame `f` of (C, F, H, W) latents as (C, 1, H, W). */
function latentFrame(x: Float32Array, C: number, F: number, plane: number, f: number): Float32Array {
  const out = new Float32Array(C * plane);
  for (let c = 0; c < C; c++) out.set(x.subarray((c * F + f) * plane, (c * F + f + 1) * plane), c * plane);
  return out;
}

function info(a: Agent, blocked: boolean, latencyMs: number, extra: Record<string, unknown>): StepInfo {
  const i: StepInfo = { ...extra, pose: a.pose(), elapsedSteps: a.elapsedSteps, frame: a.frame, blocked, prompt: a.prompt, spawn: a.spawn, latencyMs };
  if (a.spec.opts.renderTruth && a.spec.imageShape) {
    const [h, w] = a.spec.imageShape;
    const lighting = (PROMPTS as readonly string[]).includes(a.prompt ?? '') ? (a.prompt as PromptName) : 'day';
    i.truth = renderView(a.spec.level, eyeFromCharacter(a.pose()), lighting, w, h);
  }
  return i;
}

/**
 * Start a new episode for each agent: a new session (seeded from the agent's RNG), the
 * character at its spawn point, and the first observation: the model's opening for this
 * prompt and spawn when it ships one (committed and decoded), else one block generated while
 * the character stands still (all such blocks in one batched forward). Meanwhile each world
 * runs the frames of that opening or block once, the characters standing still (they settle
 * onto the ground).
 */
export async function resetAgents(agents: readonly Agent[], options: readonly unknown[]): Promise<{ obs: SpaceValue; info: StepInfo }[]> {
  if (agents.length === 0) return [];
  const spec = agents[0]!.spec;
  const { model } = spec;
  const opts = agents.map((a, i) => checkResetOptions(options[i], spec));
  await Promise.all(agents.map((a) => a.release()));
  const openings = new Map<Agent, Float32Array[]>();
  agents.forEach((a, i) => {
    const o = opts[i]!;
    const nSpawns = spec.level.spawns.length;
    const fixed = spec.opts.spawn;
    a.spawn = o.spawn ?? (typeof fixed === 'number' ? fixed : a.rng.int(nSpawns));
    if (!Number.isInteger(a.spawn) || a.spawn < 0 || a.spawn >= nSpawns) throw new ArgumentError(`spawn ${a.spawn} is not one of the level's ${nSpawns} spawn points`, 'ARGUMENT');
    a.prompt = o.prompt ?? spec.opts.prompt ?? spec.prompts[0] ?? null;
    const seed = Math.floor(a.rng.next() * 2 ** 32);
    a.session = model.createSession({ ...spec.opts.session, seed, prompt: a.prompt ?? undefined });
    a.character = a.world.physics.addCharacter(spec.level.spawns[a.spawn]!);
    Object.assign(a.input, { keys: 0, lookX: 0, lookY: 0 });
    a.elapsedSteps = 0;
    a.frame = 0;
    a.done = false;
    a.pending = [];
    const name = `${a.prompt}/${a.spawn}`;
    if (model.openings.has(name)) openings.set(a, model.openingBlocks(name, spec.opts.session));
  });
  // Each world once: as many frames as its longest opening (or one block), standing still.
  const primes = agents.filter((a) => !openings.has(a));
  const standing = new Map<Agent, ActionInput[]>(primes.map((a) => [a, []]));
  for (const w of new Set(agents.map((a) => a.world))) {
    const mine = agents.filter((a) => a.world === w);
    const frames = Math.max(...mine.map((a) => (openings.get(a)?.length ?? 1) * spec.frames));
    for (let f = 0; f < frames; f++) {
      const ticks = w.advanceFrame(new Map());
      for (const a of mine) standing.get(a)?.push(frameAction(groupMotion(ticks.get(a)!, 1)[0]!, a.frameSpace, spec.conditioning));
    }
  }
  const [C, , H, W] = spec.latentShape;
  const tUp = model.decoder?.config.t_upscale ?? 1;
  const first = (latents: Float32Array, images: readonly Frame[]): SpaceValue =>
    spec.granularity === 'block' ? observe(spec, images, latents) : observe(spec, images.slice(-tUp), latentFrame(latents, C, spec.frames, H * W, spec.frames - 1));
  const results = new Map<Agent, { obs: SpaceValue; info: StepInfo }>();
  const opened = Promise.all(
    [...openings].map(async ([a, blocks]) => {
      let frames: Frame[] = [];
      // the opening's frames: the character standing at its spawn point (the pose and the geometry, for models that take them;
      // the decoder's map of that view, for a model whose decoder takes one: the opening is decoded)
      const space = a.frameSpace;
      const stand = space.pose || space.geometry || space.frameGeometry ? poseInputs(spawnPose(spec.level.spawns[a.spawn]!), space, spec.conditioning) : undefined;
      const acts = stand ? encodeActions(stand, space, spec.frames) : undefined;
      const geometry = stand && spec.conditioning.view ? encodeGeometry(stand, space, spec.frames, spec.conditioning.view.latent) : undefined;
      const frameGeometry = stand ? encodeFrameGeometry(stand, space, spec.frames) : undefined;
      for (const b of blocks) frames = await a.session!.commit(b, acts, { decode: true, geometry, frameGeometry });
      a.lastObs = first(blocks[blocks.length - 1]!, frames);
      results.set(a, { obs: a.lastObs, info: info(a, false, 0, {}) });
    }),
  );
  if (primes.length) {
    const blocks = await stepSessions(
      primes.map((a) => ({ agent: a, session: a.session!, actions: standing.get(a)!.slice(-spec.frames) })),
      model,
    );
    primes.forEach((a, k) => {
      const b = blocks[k]!;
      a.lastObs = first(b.latents, b.images);
      results.set(a, { obs: a.lastObs, info: info(a, false, b.latencyMs, {}) });
    });
  }
  await opened;
  return agents.map((a) => results.get(a)!);
}

interface SessionStep {
  agent: Agent;
  session: Session;
  actions: ActionInput[];
}

/** One block for each session, all in one batched forward; an engine error fails the call. */
async function stepSessions(items: readonly SessionStep[], model: Model): Promise<LatentBlock[]> {
  const res = await model.stepMany(items.map((it) => ({ session: it.session, actions: it.actions })));
  return res.map((r) => {
    if (r instanceof Error) throw r;
    return r;
  });
}

/**
 * One env step for each agent with its action (already checked against the action space).
 * Agents sharing a world tick together; every block of every agent runs in one batched
 * forward.
 */
export async function stepAgents(agents: readonly Agent[], actions: readonly SpaceValue[]): Promise<AgentStep[]> {
  if (agents.length === 0) return [];
  const spec = agents[0]!.spec;
  for (const a of agents) {
    if (!a.session || !a.character) throw new ArgumentError('step() before reset()', 'ARGUMENT');
    if (a.done) throw new ArgumentError(`${a.name}: the episode has ended; call reset()`, 'ARGUMENT');
  }
  const controls = new Map(agents.map((a, i) => [a, spec.control(actions[i]!)]));
  const acc = new Map(agents.map((a) => [a, { reward: 0, terminated: false, blocked: false, extra: {} as Record<string, unknown> }]));
  const stepFrames = spec.granularity === 'block' ? spec.frames : 1;
  const worlds = [...new Set(agents.map((a) => a.world))];
  for (let f = 0; f < stepFrames; f++) {
    for (const w of worlds) {
      const mine = agents.filter((a) => a.world === w);
      const before = new Map(w.agents.filter((a) => a.character).map((a) => [a, a.pose()]));
      const ticks = w.advanceFrame(new Map(mine.map((a) => [a, controls.get(a)!])));
      for (const a of mine) {
        const t = ticks.get(a)!;
        a.frame++;
        a.pending.push(frameAction(groupMotion(t, 1)[0]!, a.frameSpace, spec.conditioning));
        const r = acc.get(a)!;
        const blocked = t.some((m) => m.blocked);
        r.blocked ||= blocked;
        if (!spec.reward || r.terminated) continue;
        const others = new Map<string, Pose>();
        for (const o of w.agents) if (o !== a && o.character) others.set(o.name, o.pose());
        const out = spec.reward({ agent: a.name, frame: a.frame, prev: before.get(a)!, pose: a.pose(), ticks: t, blocked, level: spec.level, others });
        if (typeof out === 'number') r.reward += out;
        else {
          r.reward += out.reward ?? 0;
          r.terminated ||= out.terminated ?? false;
          Object.assign(r.extra, out.info);
        }
      }
    }
  }
  // The blocks: the real session when its block's actions are all in, else a speculative fork.
  const F = spec.frames;
  const forks: Session[] = [];
  const items: SessionStep[] = [];
  let blocks: LatentBlock[];
  try {
    for (const a of agents) {
      const j = a.pending.length - 1;
      if (a.pending.length === F) {
        items.push({ agent: a, session: a.session!, actions: a.pending });
      } else {
        const fork = await a.session!.fork();
        forks.push(fork);
        const actions = [...a.pending];
        while (actions.length < F) actions.push(a.pending[j]!);
        items.push({ agent: a, session: fork, actions });
      }
    }
    blocks = await stepSessions(items, spec.model);
  } catch (e) {
    // The physics has moved on without its frames: these episodes cannot continue.
    for (const a of agents) a.done = true;
    throw e;
  } finally {
    await Promise.all(forks.map((f) => f.close()));
  }
  const [C, , H, W] = spec.latentShape;
  const tUp = spec.model.decoder?.config.t_upscale ?? 1;
  return agents.map((a, k) => {
    const b = blocks[k]!;
    const j = a.pending.length - 1;
    let obs: SpaceValue;
    if (spec.granularity === 'block') obs = observe(spec, b.images, b.latents);
    else obs = observe(spec, b.images.slice(b.images.length - (F - j) * tUp, b.images.length - (F - 1 - j) * tUp), latentFrame(b.latents, C, F, H * W, j));
    if (a.pending.length === F) a.pending = [];
    a.elapsedSteps++;
    const r = acc.get(a)!;
    const truncated = !r.terminated && spec.opts.maxEpisodeSteps !== undefined && a.elapsedSteps >= spec.opts.maxEpisodeSteps;
    a.done = r.terminated || truncated;
    a.lastObs = obs;
    return { obs, reward: r.reward, terminated: r.terminated, truncated, info: info(a, r.blocked, b.latencyMs, r.extra) };
  });
}

/** Check an action against the env's action space. */
export function checkAction(spec: EnvSpec, action: unknown, where = 'action'): SpaceValue {
  return spec.actionSpace.check(action, where);
}

export type { BoxValue };

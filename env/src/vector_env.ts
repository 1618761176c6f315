/**
 * VectorWorldEnv: n independent worlds stepped together, Gymnasium 1.x `VectorEnv`
 * semantics. Every step of every sub-env is one batched engine forward per denoising step
 * (`model.stepMany`); sub-env i is exactly the single {@link WorldEnv} with the same options
 * seeded `seed + i` (what Gymnasium's `reset(seed=s)` does).
 *
 * Autoreset (`autoresetMode`, as `gymnasium.vector.AutoresetMode`):
 * - 'next-step' (default): a sub-env whose episode ended is reset by the next `step()`,
 *   which ignores its action and returns the new episode's first observation with reward 0,
 *   terminated and truncated false.
 * - 'same-step': the step that ends an episode resets at once: it returns the new episode's
 *   first observation, the ending step's reward and flags, and the ended episode's last
 *   observation and info in `info.final_obs` / `info.final_info`.
 * - 'disabled': never; stepping an ended sub-env is an error until `reset({resetMask})`.
 *
 * Observations are batched (Box values stacked into one typed array, Dict per key); infos
 * are one object per sub-env (where Gymnasium packs a dict of arrays).
 */
import type { LoadOptions, Model } from '../../sdk/src/model.js';
import { ArgumentError, ClosedError } from '../../sdk/src/errors.js';
import { defaultLevel } from '../../world/src/levels/index.js';
import { Rng } from '../../world/src/rng.js';
import { Agent, EnvSpec, World, resetAgents, stepAgents, type AgentStep, type EnvOptions, type ResetOptions, type StepInfo } from './core.js';
import { batchSpace, concatenate, iterate, type Space, type SpaceValue } from './spaces.js';
import { checkSeed, resolveModel } from './world_env.js';

/** When a sub-env whose episode ended is reset (gymnasium.vector.AutoresetMode). */
export type AutoresetMode = 'next-step' | 'same-step' | 'disabled';

/** {@link VectorWorldEnv.reset}'s arguments. */
export interface VectorResetArgs {
  /** One seed (sub-env i gets seed + i) or one per sub-env. */
  seed?: number | readonly (number | undefined)[];
  /** Options for every sub-env, or one per sub-env. */
  options?: ResetOptions | readonly (ResetOptions | undefined)[];
  /** Reset only these sub-envs (the others keep their state and report their last observation). */
  resetMask?: readonly boolean[];
}

/** A vector env's metadata. */
export interface VectorMetadata {
  /** When ended sub-envs reset. */
  autoresetMode: AutoresetMode;
  /** Latent frames per second of world time. */
  renderFps: number;
  /** `'block'` or `'frame'`. */
  granularity: string;
}

/** What a vector step returns: batched observations, then per sub-env rewards, flags and infos. */
export type VectorStepResult = [obs: SpaceValue, rewards: Float64Array, terminations: boolean[], truncations: boolean[], infos: StepInfo[]];

/** n worlds stepped as one batched forward, Gymnasium 1.x `VectorEnv` semantics (see the module comment). */
export class VectorWorldEnv {
  /** Number of sub-envs. */
  readonly numEnvs: number;
  /** One sub-env's observation space. */
  readonly singleObservationSpace: Space;
  /** One sub-env's action space. */
  readonly singleActionSpace: Space;
  /** The batched observation space (what `reset` and `step` return). */
  readonly observationSpace: Space;
  /** The batched action space (a batched value `step` also takes). */
  readonly actionSpace: Space;
  /** Gymnasium's metadata, with the autoreset mode. */
  readonly metadata: VectorMetadata;
  /** @internal */
  readonly spec: EnvSpec;
  readonly #agents: Agent[];
  readonly #worlds: World[];
  readonly #owned: boolean;
  /** Sub-envs whose episode ended on the previous step ('next-step' mode resets them now). */
  readonly #autoreset: boolean[];
  #closed = false;

  private constructor(spec: EnvSpec, worlds: World[], owned: boolean, mode: AutoresetMode) {
    this.spec = spec;
    this.numEnvs = worlds.length;
    this.#worlds = worlds;
    this.#agents = worlds.map((w) => new Agent('agent_0', w));
    this.#owned = owned;
    this.#autoreset = worlds.map(() => false);
    this.singleObservationSpace = spec.observationSpace;
    this.singleActionSpace = spec.actionSpace;
    this.observationSpace = batchSpace(spec.observationSpace, this.numEnvs);
    this.actionSpace = batchSpace(spec.actionSpace, this.numEnvs);
    this.metadata = { autoresetMode: mode, renderFps: spec.fps, granularity: spec.granularity };
  }

  /** n sub-envs over a loaded model or a model directory (loaded with `load`, owned by the env). */
  static async create(model: Model | string, numEnvs: number, opts: EnvOptions & { load?: LoadOptions; autoresetMode?: AutoresetMode } = {}): Promise<VectorWorldEnv> {
    if (!Number.isInteger(numEnvs) || numEnvs < 1) throw new ArgumentError('numEnvs must be a positive integer', 'ARGUMENT');
    const { load, autoresetMode = 'next-step', ...rest } = opts;
    if (!['next-step', 'same-step', 'disabled'].includes(autoresetMode)) throw new ArgumentError(`autoresetMode must be 'next-step', 'same-step' or 'disabled', not ${String(autoresetMode)}`, 'ARGUMENT');
    const m = await resolveModel(model, load);
    const worlds: World[] = [];
    try {
      const spec = new EnvSpec(m.model, rest, rest.level ?? defaultLevel);
      for (let i = 0; i < numEnvs; i++) worlds.push(await World.create(spec));
      return new VectorWorldEnv(spec, worlds, m.owned, autoresetMode);
    } catch (e) {
      worlds.forEach((w) => w.free());
      if (m.owned) m.model.close();
      throw e;
    }
  }

  /** The model the env runs. */
  get model(): Model {
    return this.spec.model;
  }

  /** Reset every sub-env (or those in `resetMask`): `[obs, infos]`. */
  async reset(args: VectorResetArgs = {}): Promise<[obs: SpaceValue, infos: StepInfo[]]> {
    this.#live();
    const n = this.numEnvs;
    const mask = args.resetMask;
    if (mask !== undefined && (!Array.isArray(mask) || mask.length !== n || mask.some((b) => typeof b !== 'boolean'))) throw new ArgumentError(`resetMask must be ${n} booleans`, 'ARGUMENT');
    const seeds = Array.isArray(args.seed) ? args.seed : Array.from({ length: n }, (_, i) => (args.seed === undefined ? undefined : (args.seed as number) + i));
    if (seeds.length !== n) throw new ArgumentError(`seed: expected one number or ${n}, got ${seeds.length}`, 'ARGUMENT');
    seeds.forEach((s, i) => checkSeed(s, `seed[${i}]`));
    const options = Array.isArray(args.options) ? args.options : Array.from({ length: n }, () => args.options as ResetOptions | undefined);
    if (options.length !== n) throw new ArgumentError(`options: expected one object or ${n}, got ${options.length}`, 'ARGUMENT');
    const chosen = this.#agents.map((_, i) => i).filter((i) => !mask || mask[i]);
    chosen.forEach((i) => {
      if (seeds[i] !== undefined) this.#agents[i]!.rng = new Rng(seeds[i]!);
    });
    const results = await resetAgents(
      chosen.map((i) => this.#agents[i]!),
      chosen.map((i) => options[i]),
    );
    const infos: StepInfo[] = this.#agents.map((a) => this.#lastInfo(a));
    chosen.forEach((i, k) => {
      infos[i] = results[k]!.info;
      this.#autoreset[i] = false;
    });
    return [this.#batch(), infos];
  }

  /** One step of every sub-env: actions as one value per sub-env or one batched value of {@link actionSpace}. */
  async step(actions: unknown): Promise<VectorStepResult> {
    this.#live();
    const n = this.numEnvs;
    // A JS array is one action per sub-env; anything else is a batched value of actionSpace.
    let list: SpaceValue[];
    if (Array.isArray(actions)) {
      if (actions.length !== n) throw new ArgumentError(`actions: expected ${n} (one per sub-env), got ${actions.length}`, 'ARGUMENT');
      list = actions.map((a, i) => this.singleActionSpace.check(a, `actions[${i}]`));
    } else {
      list = iterate(this.singleActionSpace, actions, n);
    }
    const mode = this.metadata.autoresetMode;
    const resetting: number[] = [];
    const stepping: number[] = [];
    for (let i = 0; i < n; i++) {
      const a = this.#agents[i]!;
      if (!a.session) throw new ArgumentError('step() before reset()', 'ARGUMENT');
      if (a.done && mode === 'disabled') throw new ArgumentError(`sub-env ${i}: its episode has ended; reset it with reset({resetMask})`, 'ARGUMENT');
      (mode === 'next-step' && this.#autoreset[i] ? resetting : stepping).push(i);
    }
    const rewards = new Float64Array(n);
    const terminations = Array<boolean>(n).fill(false);
    const truncations = Array<boolean>(n).fill(false);
    const infos: StepInfo[] = Array(n);
    if (resetting.length) {
      const r = await resetAgents(resetting.map((i) => this.#agents[i]!), []);
      resetting.forEach((i, k) => {
        infos[i] = r[k]!.info;
        this.#autoreset[i] = false;
      });
    }
    const stepped: AgentStep[] = await stepAgents(
      stepping.map((i) => this.#agents[i]!),
      stepping.map((i) => list[i]!),
    );
    const ended: number[] = [];
    stepping.forEach((i, k) => {
      const s = stepped[k]!;
      rewards[i] = s.reward;
      terminations[i] = s.terminated;
      truncations[i] = s.truncated;
      infos[i] = s.info;
      if (s.terminated || s.truncated) {
        this.#autoreset[i] = true;
        ended.push(i);
      }
    });
    if (mode === 'same-step' && ended.length) {
      const finals = ended.map((i) => ({ obs: stepped[stepping.indexOf(i)]!.obs, info: infos[i]! }));
      const r = await resetAgents(ended.map((i) => this.#agents[i]!), []);
      ended.forEach((i, k) => {
        infos[i] = { ...r[k]!.info, final_obs: finals[k]!.obs, final_info: finals[k]!.info };
        this.#autoreset[i] = false;
      });
    }
    return [this.#batch(), rewards, terminations, truncations, infos];
  }

  /** The sub-envs' last frames (HWC RGB each; null before reset). */
  render(): (Uint8Array | null)[] {
    return this.#agents.map((a) => a.lastFrame());
  }

  /** Free everything: the sessions' KV pages, the physics worlds, an owned model. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#agents.map((a) => a.release()));
    this.#worlds.forEach((w) => w.free());
    if (this.#owned) this.spec.model.close();
  }

  #batch(): SpaceValue {
    const missing = this.#agents.findIndex((a) => a.lastObs === null);
    if (missing >= 0) throw new ArgumentError(`sub-env ${missing} has not been reset`, 'ARGUMENT');
    return concatenate(this.singleObservationSpace, this.#agents.map((a) => a.lastObs!));
  }

  #lastInfo(a: Agent): StepInfo {
    return a.character
      ? { pose: a.pose(), elapsedSteps: a.elapsedSteps, frame: a.frame, blocked: false, prompt: a.prompt, spawn: a.spawn, latencyMs: 0 }
      : ({} as StepInfo);
  }

  #live(): void {
    if (this.#closed) throw new ClosedError('the environment is closed', 'CLOSED');
  }
}

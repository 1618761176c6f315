/**
 * WorldEnv: one agent in a world model's world, with Gymnasium 1.x semantics.
 *
 * ```ts
 * const env = await WorldEnv.create('models/default', { reward: goalTask([6, -6]), maxEpisodeSteps: 100 });
 * let [obs, info] = await env.reset({ seed: 1 });
 * const [obs2, reward, terminated, truncated, info2] = await env.step(env.actionSpace.sample());
 * await env.close();
 * ```
 */
import { loadModel, type LoadOptions, type Model } from '../../sdk/src/model.js';
import { ArgumentError, ClosedError } from '../../sdk/src/errors.js';
import { defaultLevel } from '../../world/src/levels/index.js';
import { Rng } from '../../world/src/rng.js';
import { Agent, EnvSpec, World, resetAgents, stepAgents, type EnvOptions, type ResetOptions, type StepInfo } from './core.js';
import type { Space, SpaceValue } from './spaces.js';

/** Gymnasium's `reset(seed=None, options=None)`. */
export interface ResetArgs {
  /** Seeds the env's RNG (spawn and session noise draws); later resets without a seed continue it. */
  seed?: number;
  /** The episode's spawn point and prompt. */
  options?: ResetOptions;
}

/** An env's metadata (Gymnasium's `metadata`). */
export interface EnvMetadata {
  /** `['rgb_array']`: `render()` returns the last frame. */
  renderModes: ['rgb_array'];
  /** Latent frames per second of world time. */
  renderFps: number;
  /** `'block'` or `'frame'`. */
  granularity: string;
  /** Latent frames one step advances. */
  framesPerStep: number;
}

/** What `step` returns: `[obs, reward, terminated, truncated, info]`. */
export type StepResult = [obs: SpaceValue, reward: number, terminated: boolean, truncated: boolean, info: StepInfo];

/** Load the model when given a directory (the env then owns and closes it). */
export async function resolveModel(model: Model | string, load?: LoadOptions): Promise<{ model: Model; owned: boolean }> {
  return typeof model === 'string' ? { model: await loadModel(model, load), owned: true } : { model, owned: false };
}

export function checkSeed(seed: unknown, where = 'seed'): number | undefined {
  if (seed === undefined || seed === null) return undefined;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) throw new ArgumentError(`${where} must be a non-negative integer`, 'ARGUMENT');
  return seed;
}

/** One agent in a world model's world, Gymnasium 1.x `Env` semantics (see the module comment). */
export class WorldEnv {
  /** What `reset` and `step` return as `obs`. */
  readonly observationSpace: Space;
  /** What `step` takes. */
  readonly actionSpace: Space;
  /** Gymnasium's metadata. */
  readonly metadata: EnvMetadata;
  /** @internal */
  readonly spec: EnvSpec;
  readonly #agent: Agent;
  readonly #world: World;
  readonly #owned: boolean;
  #closed = false;

  private constructor(spec: EnvSpec, world: World, owned: boolean) {
    this.spec = spec;
    this.#world = world;
    this.#agent = new Agent('agent_0', world);
    this.#owned = owned;
    this.observationSpace = spec.observationSpace;
    this.actionSpace = spec.actionSpace;
    this.metadata = { renderModes: ['rgb_array'], renderFps: spec.fps, granularity: spec.granularity, framesPerStep: spec.granularity === 'block' ? spec.frames : 1 };
  }

  /** An env over a loaded model or a model directory (loaded with `load`, owned by the env). */
  static async create(model: Model | string, opts: EnvOptions & { load?: LoadOptions } = {}): Promise<WorldEnv> {
    const { load, ...rest } = opts;
    const m = await resolveModel(model, load);
    try {
      const spec = new EnvSpec(m.model, rest, rest.level ?? defaultLevel);
      return new WorldEnv(spec, await World.create(spec), m.owned);
    } catch (e) {
      if (m.owned) m.model.close();
      throw e;
    }
  }

  /** The model the env runs. */
  get model(): Model {
    return this.spec.model;
  }

  /** Start an episode: `[obs, info]`. */
  async reset(args: ResetArgs = {}): Promise<[obs: SpaceValue, info: StepInfo]> {
    this.#live();
    const seed = checkSeed(args.seed);
    if (seed !== undefined) this.#agent.rng = new Rng(seed);
    const [r] = await resetAgents([this.#agent], [args.options]);
    return [r!.obs, r!.info];
  }

  /** One step: `[obs, reward, terminated, truncated, info]`. The action is checked first; a bad one changes nothing. */
  async step(action: unknown): Promise<StepResult> {
    this.#live();
    const a = this.actionSpace.check(action, 'action');
    const [r] = await stepAgents([this.#agent], [a]);
    return [r!.obs, r!.reward, r!.terminated, r!.truncated, r!.info];
  }

  /** Change the prompt; applies from the next step (and stays for this episode). */
  async setPrompt(prompt: string): Promise<void> {
    this.#live();
    if (!this.#agent.session) throw new ArgumentError('setPrompt() before reset()', 'ARGUMENT');
    await this.#agent.session.setPrompt(prompt);
    this.#agent.prompt = prompt;
  }

  /** The last observation's frame (HWC RGB), Gymnasium's `render()` in 'rgb_array' mode; null before reset. */
  render(): Uint8Array | null {
    return this.#agent.lastFrame();
  }

  /** End the episode and free everything (the session's KV pages, the physics world, an owned model). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#agent.release();
    this.#world.free();
    if (this.#owned) this.spec.model.close();
  }

  #live(): void {
    if (this.#closed) throw new ClosedError('the environment is closed', 'CLOSED');
  }
}

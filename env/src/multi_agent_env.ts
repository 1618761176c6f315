/**
 * MultiAgentWorldEnv: several agents in one world, PettingZoo's Parallel API. They share
 * one rapier world (their capsules collide; the level's rewards see the others' poses) and
 * each has its own engine session (its own view). All agents' blocks run as one batched
 * forward. An agent whose episode ends leaves `agents` (its session and character are
 * freed); `reset()` brings everyone back.
 *
 * The model draws the level, not the other agents: the default world model was trained on
 * a lone character, so agents meet in physics and rewards only.
 */
import type { LoadOptions, Model } from '../../sdk/src/model.js';
import { ArgumentError, ClosedError } from '../../sdk/src/errors.js';
import { defaultLevel } from '../../world/src/levels/index.js';
import { Rng } from '../../world/src/rng.js';
import { Agent, EnvSpec, World, resetAgents, stepAgents, type EnvOptions, type ResetOptions, type StepInfo } from './core.js';
import type { Space, SpaceValue } from './spaces.js';
import { checkSeed, resolveModel } from './world_env.js';

/** {@link MultiAgentWorldEnv.reset}'s arguments. */
export interface MultiAgentResetArgs {
  /** Seeds the env: agent i's RNG gets stream i of it. */
  seed?: number;
  /** Options for every agent ({prompt}) or per agent name ({spawn, prompt}); spawns default to distinct random spawn points. */
  options?: ResetOptions | Record<string, ResetOptions>;
}

/** A multi-agent env's metadata (PettingZoo's). */
export interface MultiAgentMetadata {
  /** The env's name. */
  name: string;
  /** Latent frames per second of world time. */
  renderFps: number;
  /** `'block'` or `'frame'`. */
  granularity: string;
  /** Agents act at the same time (the Parallel API). */
  isParallelizable: true;
}

/** Several agents in one world, PettingZoo's Parallel API (see the module comment). */
export class MultiAgentWorldEnv {
  /** Every agent's name. */
  readonly possibleAgents: readonly string[];
  /** Agents whose episode is running. */
  agents: string[] = [];
  /** PettingZoo's metadata. */
  readonly metadata: MultiAgentMetadata;
  /** @internal */
  readonly spec: EnvSpec;
  readonly #world: World;
  readonly #byName: Map<string, Agent>;
  readonly #owned: boolean;
  #rng = new Rng(0);
  #closed = false;

  private constructor(spec: EnvSpec, world: World, names: string[], owned: boolean) {
    this.spec = spec;
    this.#world = world;
    this.possibleAgents = names;
    this.#byName = new Map(names.map((n) => [n, new Agent(n, world)]));
    this.#owned = owned;
    this.metadata = { name: 'worldcast_multi_agent_v0', renderFps: spec.fps, granularity: spec.granularity, isParallelizable: true };
  }

  /** `agents`: how many (named agent_0 …) or their names. */
  static async create(model: Model | string, agents: number | readonly string[], opts: EnvOptions & { load?: LoadOptions } = {}): Promise<MultiAgentWorldEnv> {
    const names = typeof agents === 'number' ? Array.from({ length: agents }, (_, i) => `agent_${i}`) : [...agents];
    if (names.length < 1 || new Set(names).size !== names.length || names.some((n) => typeof n !== 'string' || !n)) throw new ArgumentError('agents must be a positive count or distinct non-empty names', 'ARGUMENT');
    const { load, ...rest } = opts;
    const level = rest.level ?? defaultLevel;
    if (names.length > level.spawns.length) throw new ArgumentError(`${names.length} agents but the level has ${level.spawns.length} spawn points`, 'ARGUMENT');
    const m = await resolveModel(model, load);
    try {
      const spec = new EnvSpec(m.model, rest, level);
      return new MultiAgentWorldEnv(spec, await World.create(spec), names, m.owned);
    } catch (e) {
      if (m.owned) m.model.close();
      throw e;
    }
  }

  /** An agent's observation space (the same for all). */
  observationSpace(agent: string): Space {
    this.#agent(agent);
    return this.spec.observationSpace;
  }

  /** An agent's action space (the same for all). */
  actionSpace(agent: string): Space {
    this.#agent(agent);
    return this.spec.actionSpace;
  }

  /** Every agent starts a new episode: `[observations, infos]` by agent name. */
  async reset(args: MultiAgentResetArgs = {}): Promise<[obs: Record<string, SpaceValue>, infos: Record<string, StepInfo>]> {
    this.#live();
    const seed = checkSeed(args.seed);
    if (seed !== undefined) {
      this.#rng = new Rng(seed);
      this.possibleAgents.forEach((n, i) => (this.#byName.get(n)!.rng = new Rng(seed, i + 1)));
    }
    const o = args.options ?? {};
    const perAgent = this.possibleAgents.some((n) => n in o);
    // Distinct spawn points (a random permutation from the env's RNG) unless given.
    const spawns = this.spec.level.spawns.map((_, i) => i);
    for (let i = spawns.length - 1; i > 0; i--) {
      const j = this.#rng.int(i + 1);
      [spawns[i], spawns[j]] = [spawns[j]!, spawns[i]!];
    }
    const opts = this.possibleAgents.map((n, i) => {
      const mine = perAgent ? (o as Record<string, ResetOptions>)[n] ?? {} : (o as ResetOptions);
      return { spawn: typeof this.spec.opts.spawn === 'number' ? this.spec.opts.spawn : spawns[i], ...mine };
    });
    const r = await resetAgents(
      this.possibleAgents.map((n) => this.#byName.get(n)!),
      opts,
    );
    this.agents = [...this.possibleAgents];
    return [Object.fromEntries(this.agents.map((n, i) => [n, r[i]!.obs])), Object.fromEntries(this.agents.map((n, i) => [n, r[i]!.info]))];
  }

  /** One step of every live agent (an action for each is required): observations, rewards, terminations, truncations, infos by name. */
  async step(actions: Record<string, unknown>): Promise<[obs: Record<string, SpaceValue>, rewards: Record<string, number>, terminations: Record<string, boolean>, truncations: Record<string, boolean>, infos: Record<string, StepInfo>]> {
    this.#live();
    if (actions === null || typeof actions !== 'object') throw new ArgumentError('actions must be an object {agent name: action}', 'ARGUMENT');
    for (const k of Object.keys(actions)) if (!this.agents.includes(k)) throw new ArgumentError(`actions: "${k}" is not a live agent (live: ${this.agents.join(', ') || 'none'})`, 'ARGUMENT');
    const live = [...this.agents];
    const checked = live.map((n) => {
      if (!(n in actions)) throw new ArgumentError(`actions: missing an action for "${n}"`, 'ARGUMENT');
      return this.spec.actionSpace.check(actions[n], `actions.${n}`);
    });
    const r = await stepAgents(
      live.map((n) => this.#byName.get(n)!),
      checked,
    );
    const out: [Record<string, SpaceValue>, Record<string, number>, Record<string, boolean>, Record<string, boolean>, Record<string, StepInfo>] = [{}, {}, {}, {}, {}];
    live.forEach((n, i) => {
      const s = r[i]!;
      out[0][n] = s.obs;
      out[1][n] = s.reward;
      out[2][n] = s.terminated;
      out[3][n] = s.truncated;
      out[4][n] = s.info;
    });
    const gone = live.filter((n) => out[2][n] || out[3][n]);
    this.agents = live.filter((n) => !gone.includes(n));
    await Promise.all(gone.map((n) => this.#byName.get(n)!.release()));
    return out;
  }

  /** The live agents' last frames (HWC RGB). */
  render(): Record<string, Uint8Array | null> {
    return Object.fromEntries(this.agents.map((n) => [n, this.#byName.get(n)!.lastFrame()]));
  }

  /** Free everything: the sessions' KV pages, the physics world, an owned model. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#byName.values()].map((a) => a.release()));
    this.#world.free();
    if (this.#owned) this.spec.model.close();
  }

  #agent(name: string): Agent {
    const a = this.#byName.get(name);
    if (!a) throw new ArgumentError(`unknown agent "${name}"; agents are ${this.possibleAgents.join(', ')}`, 'ARGUMENT');
    return a;
  }

  #live(): void {
    if (this.#closed) throw new ClosedError('the environment is closed', 'CLOSED');
  }
}

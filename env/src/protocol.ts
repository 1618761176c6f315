/**
 * The env protocol: external learners (a Python agent, say) drive environments with msgpack
 * messages over a WebSocket (one binary message each) or stdio (each message prefixed by its
 * byte length, uint32 little-endian).
 *
 * Request  `{id, method, params}`; reply `{id, result}` or `{id, error: {type, message}}`
 * (id null when the request could not be read). Methods:
 * - `make {kind: 'single'|'vector'|'multi', model?, num_envs?, agents?, options?}` →
 *   `{env, observation_space, action_space, metadata}` (spaces as {@link SpaceJSON};
 *   for 'multi' the spaces of one agent and `possible_agents`)
 * - `reset {env, seed?, options?}` → `{obs, info}` (multi: obs/info by agent)
 * - `step {env, action}` → `{obs, reward, terminated, truncated, info}`
 *   (vector: `action` is a list, one per sub-env; multi: an object by agent name)
 * - `close {env}` → `{}`; `list {}` → `{envs}`
 *
 * Arrays travel as `{dtype, shape, data}` with `data` the raw little-endian bytes (msgpack
 * bin), so a client needs nothing beyond msgpack. Options are the env options that survive
 * JSON (prompt, granularity, actionType, observation, maxEpisodeSteps, spawn, renderTruth,
 * session, autoresetMode) plus `reward`: a list of built-in reward specs
 * (`{type: 'reachGoal'|'goalProgress'|'collisionPenalty'|'stepCost'|'goalTask', ...}`).
 */
import { resolve } from 'node:path';

import { Packr, Unpackr } from 'msgpackr';

import { loadModel, type Model } from '../../sdk/src/model.js';
import { ArgumentError, WorldcastError } from '../../sdk/src/errors.js';
import type { EnvOptions } from './core.js';
import { MultiAgentWorldEnv } from './multi_agent_env.js';
import { collisionPenalty, goalProgress, goalTask, reachGoal, stepCost, type RewardFn } from './rewards.js';
import { Box, Dict, type Space, type SpaceValue } from './spaces.js';
import { VectorWorldEnv, type AutoresetMode } from './vector_env.js';
import { WorldEnv } from './world_env.js';
import { describeValue } from '../../sdk/src/describe.js';

/** A client value in an error message (strings cut at 64 characters, escaped). */
const describe = (v: unknown): string => describeValue(v, 64);

/** An array on the wire. */
export interface WireArray {
  dtype: 'uint8' | 'int8' | 'int32' | 'float32' | 'float64';
  shape: number[];
  data: Uint8Array;
}

const packr = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true });
const unpackr = new Unpackr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'number' });

/** Largest message accepted (bytes). */
export const MAX_MESSAGE = 64 * 1024 * 1024;

type Env = WorldEnv | VectorWorldEnv | MultiAgentWorldEnv;

function wireArray(a: ArrayBufferView, shape?: readonly number[]): WireArray {
  const dtype = a instanceof Uint8Array ? 'uint8' : a instanceof Int8Array ? 'int8' : a instanceof Int32Array ? 'int32' : a instanceof Float32Array ? 'float32' : 'float64';
  const per = a instanceof Float64Array ? 8 : a instanceof Float32Array || a instanceof Int32Array ? 4 : 1;
  return { dtype, shape: shape ? [...shape] : [a.byteLength / per], data: new Uint8Array(a.buffer, a.byteOffset, a.byteLength) };
}

/** A value for the wire: typed arrays as {@link WireArray} (shaped by `space` when given), objects recursively. */
export function toWire(v: unknown, space?: Space): unknown {
  if (ArrayBuffer.isView(v)) return wireArray(v, space instanceof Box ? space.shape : undefined);
  if (Array.isArray(v)) return v.map((x) => toWire(x));
  if (v !== null && typeof v === 'object') {
    const sub = space instanceof Dict ? space.spaces : undefined;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toWire(x, sub?.[k])]));
  }
  return v;
}


/** A client's `model` directory: a path of at most 4096 printable characters (it ends up in error messages and logs). */
function modelDir(v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 4096 || /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u.test(v))
    throw new ArgumentError(`make: model must be a directory path of printable characters (got ${describe(v)})`, 'ARGUMENT');
  return v;
}

/** Built-in reward functions from their JSON specs. */
export function rewardFromSpec(spec: unknown, where = 'reward'): RewardFn {
  if (spec === null || typeof spec !== 'object') throw new ArgumentError(`${where}: expected {type, ...}`, 'ARGUMENT');
  const s = spec as Record<string, unknown>;
  const center = (): [number, number] => {
    const c = s.center;
    if (!Array.isArray(c) || c.length !== 2 || c.some((x) => typeof x !== 'number' || !Number.isFinite(x))) throw new ArgumentError(`${where}.center must be [x, z]`, 'ARGUMENT');
    return [c[0], c[1]];
  };
  const num = (k: string): number | undefined => {
    const v = s[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(`${where}.${k} must be a finite number`, 'ARGUMENT');
    return v;
  };
  const bool = (k: string): boolean | undefined => {
    const v = s[k];
    if (v !== undefined && typeof v !== 'boolean') throw new ArgumentError(`${where}.${k} must be true or false`, 'ARGUMENT');
    return v as boolean | undefined;
  };
  switch (s.type) {
    case 'reachGoal':
      return reachGoal({ center: center(), radius: num('radius'), reward: num('reward'), terminate: bool('terminate') });
    case 'goalProgress':
      return goalProgress({ center: center(), scale: num('scale') });
    case 'collisionPenalty':
      return collisionPenalty({ penalty: num('penalty'), terminate: bool('terminate') });
    case 'stepCost':
      return stepCost(num('cost'));
    case 'goalTask':
      return goalTask(center(), num('radius'));
    default:
      throw new ArgumentError(`${where}.type must be one of reachGoal, goalProgress, collisionPenalty, stepCost, goalTask (got ${describe(s.type)})`, 'ARGUMENT');
  }
}

const OPTION_KEYS = ['prompt', 'granularity', 'actionType', 'observation', 'maxEpisodeSteps', 'spawn', 'renderTruth', 'session', 'reward', 'autoresetMode'];

function envOptions(o: unknown): EnvOptions & { autoresetMode?: AutoresetMode } {
  if (o === undefined || o === null) return {};
  if (typeof o !== 'object' || Array.isArray(o)) throw new ArgumentError('options must be an object', 'ARGUMENT');
  const src = o as Record<string, unknown>;
  for (const k of Object.keys(src)) if (!OPTION_KEYS.includes(k)) throw new ArgumentError(`unknown option ${describe(k)}; known: ${OPTION_KEYS.join(', ')}`, 'ARGUMENT');
  const { reward, ...rest } = src;
  const out = rest as EnvOptions & { autoresetMode?: AutoresetMode };
  if (reward !== undefined) out.reward = (Array.isArray(reward) ? reward : [reward]).map((r, i) => rewardFromSpec(r, `reward[${i}]`));
  return out;
}

/** Serves environments to one or more clients: decode a request, run it, encode the reply. */
export class EnvServer {
  readonly #envs = new Map<number, Env>();
  readonly #models = new Map<string, Promise<Model>>();
  #next = 1;
  constructor(readonly opts: { defaultModel: string; threads?: number }) {}

  /** One request's bytes in, the reply's bytes out. Never throws. */
  async handle(bytes: Uint8Array): Promise<Uint8Array> {
    let id: unknown = null;
    try {
      if (bytes.byteLength > MAX_MESSAGE) throw new ArgumentError(`message of ${bytes.byteLength} bytes exceeds ${MAX_MESSAGE}`, 'ARGUMENT');
      let msg: unknown;
      try {
        msg = unpackr.unpack(bytes);
      } catch (e) {
        // msgpackr's message can quote the decoded data: cut and escaped like any client value
        throw new ArgumentError(`not a msgpack message: ${describe(e instanceof Error ? e.message : e)}`, 'ARGUMENT');
      }
      if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) throw new ArgumentError('a request is a map {id, method, params}', 'ARGUMENT');
      const m = msg as Record<string, unknown>;
      if (typeof m.id === 'number' || typeof m.id === 'string') id = m.id;
      if (typeof m.method !== 'string') throw new ArgumentError('request.method must be a string', 'ARGUMENT');
      const params = m.params ?? {};
      if (typeof params !== 'object' || params === null || Array.isArray(params)) throw new ArgumentError('request.params must be a map', 'ARGUMENT');
      const result = await this.call(m.method, params as Record<string, unknown>);
      return packr.pack({ id, result: toWire(result.value, result.space) });
    } catch (e) {
      const err = e instanceof Error ? e : new Error(`a non-Error was thrown: ${describe(e)}`);
      const type = err instanceof WorldcastError ? err.name : 'InternalError';
      return packr.pack({ id, error: { type, message: err.message } });
    }
  }

  async call(method: string, p: Record<string, unknown>): Promise<{ value: unknown; space?: Space }> {
    switch (method) {
      case 'make':
        return { value: await this.#make(p) };
      case 'reset': {
        const env = this.#env(p.env);
        if (env instanceof MultiAgentWorldEnv) {
          const [obs, info] = await env.reset({ seed: p.seed as number | undefined, options: p.options as never });
          return { value: { obs: mapSpace(obs, env.spec.observationSpace), info } };
        }
        const [obs, info] = await env.reset({ seed: p.seed as never, options: p.options as never });
        return { value: { obs, info }, space: objSpace('obs', env.observationSpace) };
      }
      case 'step': {
        const env = this.#env(p.env);
        if (env instanceof MultiAgentWorldEnv) {
          const [obs, reward, terminated, truncated, info] = await env.step(p.action as Record<string, unknown>);
          return { value: { obs: mapSpace(obs, env.spec.observationSpace), reward, terminated, truncated, info } };
        }
        const [obs, reward, terminated, truncated, info] = await env.step(p.action);
        return { value: { obs, reward: reward instanceof Float64Array ? Array.from(reward) : reward, terminated, truncated, info }, space: objSpace('obs', env.observationSpace) };
      }
      case 'close': {
        const env = this.#env(p.env);
        this.#envs.delete(p.env as number);
        await env.close();
        return { value: {} };
      }
      case 'list':
        return { value: { envs: [...this.#envs.keys()] } };
      default:
        throw new ArgumentError(`unknown method ${describe(method)}; methods: make, reset, step, close, list`, 'ARGUMENT');
    }
  }

  async #make(p: Record<string, unknown>): Promise<Record<string, unknown>> {
    const kind = p.kind ?? 'single';
    const dir = resolve(p.model === undefined ? this.opts.defaultModel : modelDir(p.model));
    const opts = envOptions(p.options);
    let model = this.#models.get(dir);
    if (!model) {
      model = loadModel(dir, { threads: this.opts.threads });
      this.#models.set(dir, model);
      model.catch(() => this.#models.delete(dir));
    }
    const m = await model;
    let env: Env;
    if (kind === 'single') {
      const { autoresetMode: _, ...rest } = opts;
      env = await WorldEnv.create(m, rest);
    } else if (kind === 'vector') {
      const n = p.num_envs;
      if (typeof n !== 'number') throw new ArgumentError('make vector: num_envs must be a positive integer', 'ARGUMENT');
      env = await VectorWorldEnv.create(m, n, opts);
    } else if (kind === 'multi') {
      const agents = p.agents;
      if (typeof agents !== 'number' && !Array.isArray(agents)) throw new ArgumentError('make multi: agents must be a count or a list of names', 'ARGUMENT');
      const { autoresetMode: _, ...rest } = opts;
      env = await MultiAgentWorldEnv.create(m, agents as number | string[], rest);
    } else {
      throw new ArgumentError(`make: kind must be 'single', 'vector' or 'multi' (got ${describe(kind)})`, 'ARGUMENT');
    }
    const handle = this.#next++;
    this.#envs.set(handle, env);
    if (env instanceof MultiAgentWorldEnv)
      return { env: handle, observation_space: env.spec.observationSpace.toJSON(), action_space: env.spec.actionSpace.toJSON(), possible_agents: env.possibleAgents, metadata: env.metadata };
    return { env: handle, observation_space: env.observationSpace.toJSON(), action_space: env.actionSpace.toJSON(), metadata: env.metadata };
  }

  #env(h: unknown): Env {
    const env = typeof h === 'number' ? this.#envs.get(h) : undefined;
    if (!env) throw new ArgumentError(`no environment ${describe(h)}; make one first`, 'ARGUMENT');
    return env;
  }

  /** Close every env and model. */
  async close(): Promise<void> {
    const envs = [...this.#envs.values()];
    this.#envs.clear();
    await Promise.all(envs.map((e) => e.close()));
    for (const m of this.#models.values()) (await m.catch(() => null))?.close();
    this.#models.clear();
  }
}

/** Shape the `obs` field of a reply by the observation space. */
function objSpace(key: string, space: Space): Space {
  return new Dict({ [key]: space });
}

/** Per-agent observations shaped by one agent's space. */
function mapSpace(obs: Record<string, SpaceValue>, space: Space): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obs).map(([k, v]) => [k, toWire(v, space)]));
}

/** Decode a reply (tests and TypeScript clients). */
export function decodeMessage(bytes: Uint8Array): unknown {
  return unpackr.unpack(bytes);
}

/** Encode a request (tests and TypeScript clients). */
export function encodeMessage(msg: unknown): Uint8Array {
  return packr.pack(msg);
}

/**
 * Runs: named engine configurations a comparison generates every video with.
 *
 * `--runs a,b,…` takes a comma-separated list of run specs. A spec is a preset name
 * ({@link PRESETS}), a name from `--runs-file`, or `name=token+token+…` where each token is a
 * preset name (its settings are merged in) or one of `kv:f32|bf16|int8`, `window:W` (latent
 * frames, −1 = global), `sink:S`, `fold`, `nofold`, `weights:f32|bf16|int8`. Examples:
 * `--runs f32,int8`, `--runs bf16,w6=window:6+sink:3`, `--runs int8,int8fold=int8+fold`.
 *
 * A runs file is JSON `{ "<name>": { "kvDtype": …, "localAttnSize": …, "sinkSize": …,
 * "foldCommit": …, "weights": … } }` (all fields optional).
 */
import { readFileSync } from 'node:fs';

import type { KvDType, WeightType } from '../../sdk/src/index.js';

/** One engine configuration. Unset window / sink mean the model's config.json values. */
export interface RunConfig {
  name: string;
  /** KV page storage. */
  kvDtype: KvDType;
  /** Attention window in latent frames (−1 = global); null = config.json's. */
  localAttnSize: number | null;
  /** Sink frames; null = config.json's. */
  sinkSize: number | null;
  /** Fold each commit pass into the next block's first forward. */
  foldCommit: boolean;
  /** Storage of the linear layers' weights (loadModel's `weights`). */
  weights: WeightType;
}

type RunSettings = Omit<RunConfig, 'name'>;

/** The SDK's defaults: bf16 KV pages, config.json's window, no fold, f32 weights. */
export const DEFAULT_RUN: RunSettings = { kvDtype: 'bf16', localAttnSize: null, sinkSize: null, foldCommit: false, weights: 'f32' };

/** Built-in presets (each differs from {@link DEFAULT_RUN} in what its name says). */
export const PRESETS: Readonly<Record<string, { settings: Partial<RunSettings>; description: string }>> = {
  default: { settings: {}, description: 'SDK defaults: bf16 KV pages, config.json window, no fold, f32 weights' },
  f32: { settings: { kvDtype: 'f32' }, description: 'fp32 KV pages' },
  bf16: { settings: { kvDtype: 'bf16' }, description: 'bf16 KV pages (the SDK default)' },
  int8: { settings: { kvDtype: 'int8' }, description: 'int8 KV pages (per-token-per-head scales)' },
  global: { settings: { localAttnSize: -1, sinkSize: 0 }, description: 'global attention over every committed frame' },
  window6: { settings: { localAttnSize: 6, sinkSize: 0 }, description: 'attention window of 6 latent frames, no sink' },
  window6sink3: { settings: { localAttnSize: 6, sinkSize: 3 }, description: 'window of 6 latent frames of which the first 3 of the video (sink)' },
  window12: { settings: { localAttnSize: 12, sinkSize: 0 }, description: 'attention window of 12 latent frames, no sink' },
  fold: { settings: { foldCommit: true }, description: 'commit pass folded into the next block\'s first forward' },
  int8w: { settings: { weights: 'int8' }, description: 'int8 linear weights (block-wise scales)' },
  bf16w: { settings: { weights: 'bf16' }, description: 'bf16 linear weights' },
};

const KV: readonly KvDType[] = ['f32', 'bf16', 'int8'];
const WEIGHTS: readonly WeightType[] = ['f32', 'bf16', 'int8'];

function checkSettings(s: RunSettings, where: string): RunSettings {
  if (!KV.includes(s.kvDtype)) throw new Error(`${where}: kv must be one of ${KV.join(', ')} (got ${String(s.kvDtype)})`);
  if (!WEIGHTS.includes(s.weights)) throw new Error(`${where}: weights must be one of ${WEIGHTS.join(', ')} (got ${String(s.weights)})`);
  if (s.localAttnSize !== null && (!Number.isInteger(s.localAttnSize) || (s.localAttnSize < 1 && s.localAttnSize !== -1)))
    throw new Error(`${where}: window must be a positive whole number of latent frames or -1 (got ${s.localAttnSize})`);
  if (s.sinkSize !== null && (!Number.isInteger(s.sinkSize) || s.sinkSize < 0)) throw new Error(`${where}: sink must be a whole number ≥ 0 (got ${s.sinkSize})`);
  if (typeof s.foldCommit !== 'boolean') throw new Error(`${where}: foldCommit must be true or false`);
  return s;
}

function intToken(v: string, token: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n)) throw new Error(`run token "${token}": expected a whole number`);
  return n;
}

function applyToken(s: RunSettings, token: string, named: ReadonlyMap<string, RunSettings>): RunSettings {
  const fromFile = named.get(token);
  if (fromFile) return { ...s, ...fromFile };
  const preset = PRESETS[token];
  if (preset) return { ...s, ...preset.settings };
  if (token === 'fold') return { ...s, foldCommit: true };
  if (token === 'nofold') return { ...s, foldCommit: false };
  const m = /^([a-z]+):(.+)$/.exec(token);
  if (m) {
    const [, key, v] = m as unknown as [string, string, string];
    if (key === 'kv') return { ...s, kvDtype: v as KvDType };
    if (key === 'weights') return { ...s, weights: v as WeightType };
    if (key === 'window') return { ...s, localAttnSize: intToken(v, token) };
    if (key === 'sink') return { ...s, sinkSize: intToken(v, token) };
  }
  throw new Error(`unknown run token "${token}": use a preset (${Object.keys(PRESETS).join(', ')}), kv:…, window:…, sink:…, fold, nofold or weights:…`);
}

/** Parses a runs file's JSON text into named settings. */
export function parseRunsFile(text: string, source = 'runs file'): Map<string, RunSettings> {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not JSON (${(e as Error).message})`);
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) throw new Error(`${source}: expected an object { "<run name>": { kvDtype, localAttnSize, sinkSize, foldCommit, weights } }`);
  const out = new Map<string, RunSettings>();
  for (const [name, v] of Object.entries(root)) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${source}: run "${name}" must be an object`);
    const known = new Set(['kvDtype', 'localAttnSize', 'sinkSize', 'foldCommit', 'weights']);
    for (const k of Object.keys(v)) if (!known.has(k)) throw new Error(`${source}: run "${name}" has unknown field "${k}" (known: ${[...known].join(', ')})`);
    out.set(name, checkSettings({ ...DEFAULT_RUN, ...(v as Partial<RunSettings>) }, `${source} run "${name}"`));
  }
  return out;
}

/** Reads a runs file. */
export function readRunsFile(path: string): Map<string, RunSettings> {
  return parseRunsFile(readFileSync(path, 'utf8'), path);
}

/** Resolves `--runs` (comma-separated specs) against the presets and the runs file's names. */
export function parseRuns(spec: string, named: ReadonlyMap<string, RunSettings> = new Map()): RunConfig[] {
  const items = spec.split(',').map((x) => x.trim()).filter((x) => x !== '');
  if (items.length === 0) throw new Error('--runs: no runs given');
  const runs = items.map((item): RunConfig => {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq).trim();
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`run name "${name}" must be letters, digits, '.', '_' or '-' (it names folders)`);
    const tokens = eq < 0 ? [item] : item.slice(eq + 1).split('+').map((t) => t.trim()).filter((t) => t !== '');
    if (tokens.length === 0) throw new Error(`run "${name}": no settings after "="`);
    let s: RunSettings = { ...DEFAULT_RUN };
    for (const t of tokens) s = applyToken(s, t, named);
    return { name, ...checkSettings(s, `run "${name}"`) };
  });
  const seen = new Set<string>();
  for (const r of runs) {
    if (seen.has(r.name)) throw new Error(`--runs: run "${r.name}" appears twice`);
    seen.add(r.name);
  }
  return runs;
}

/** A one-line description of a run's settings (for reports). */
export function describeRun(r: RunConfig): string {
  const win = r.localAttnSize === null ? 'config window' : r.localAttnSize === -1 ? 'global attention' : `window ${r.localAttnSize}`;
  const sink = r.sinkSize === null ? '' : ` sink ${r.sinkSize}`;
  return `KV ${r.kvDtype}, ${win}${sink}, ${r.foldCommit ? 'fold-commit' : 'no fold'}, ${r.weights} weights`;
}

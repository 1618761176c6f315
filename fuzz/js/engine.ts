/**
 * A small coverage-guided mutational fuzzer for TypeScript decoders (libFuzzer's loop, not
 * its code): V8's precise block coverage (node:inspector, Profiler.takePreciseCoverage with
 * call counts, reset at every take) measured around each input; an input that reaches a
 * new (block, hit-count bucket) of the target's own source files joins the corpus, and
 * mutations start from corpus entries. Jazzer.js was the first choice; see fuzz/README.md
 * for why it is not used.
 */
import { createHash } from 'node:crypto';
import { Session } from 'node:inspector';

import { pack, unpack } from 'msgpackr';

/** What a harness exports. */
export interface Harness {
  name: string;
  /** Source files whose coverage guides the search (substrings of their file URLs). */
  coverage: string[];
  /** Byte strings worth inserting (encoded keys, markers, odd characters). */
  dict?: Uint8Array[];
  /** Run one input; throw (anything) when an oracle is violated. Expected refusals are caught inside. */
  fuzz(data: Buffer): void | Promise<void>;
  /**
   * A structure-aware mutator (as libFuzzer's LLVMFuzzerCustomMutator): used for half the
   * mutations; null when it cannot handle the input (then a byte-level one is used).
   */
  mutate?(data: Buffer, rng: RandomSource): Buffer | null;
}

export interface RandomSource {
  u32(): number;
  below(n: number): number;
}

export class Finding extends Error {
  override name = 'Finding';
}

interface Range {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface ScriptCoverage {
  url: string;
  functions: { ranges: Range[] }[];
}

/** Synchronous Profiler calls on an in-process inspector session. */
class Coverage {
  readonly #s = new Session();
  readonly #offsets = new Map<string, number[]>(); // every block boundary seen, per script, sorted
  constructor(readonly targets: string[]) {
    this.#s.connect();
    this.#post('Profiler.enable');
    this.#post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }
  #post(method: string, params: object = {}): unknown {
    let result: unknown, error: Error | null = null;
    this.#s.post(method, params, (e: Error | null, r?: unknown) => {
      error = e;
      result = r;
    });
    if (error) throw error;
    return result;
  }
  /** The features the code run since the last call reached (and the counters reset). */
  take(): Set<string> {
    const { result } = this.#post('Profiler.takePreciseCoverage') as { result: ScriptCoverage[] };
    const features = new Set<string>();
    for (const sc of result) {
      if (!this.targets.some((t) => sc.url.includes(t))) continue;
      let known = this.#offsets.get(sc.url);
      if (!known) this.#offsets.set(sc.url, (known = []));
      for (const fn of sc.functions)
        for (const r of fn.ranges) {
          insertSorted(known, r.startOffset);
          insertSorted(known, r.endOffset);
        }
      for (const fn of sc.functions) {
        const outer = fn.ranges[0];
        if (!outer || outer.count === 0) continue;
        // V8 lists a function's range first, then nested blocks whose count differs from
        // their parent's: a segment's count is that of the innermost range around it.
        let i = lowerBound(known, outer.startOffset);
        for (; i < known.length - 1 && known[i]! < outer.endOffset; i++) {
          const a = known[i]!;
          let count = 0, width = Infinity;
          for (const r of fn.ranges)
            if (r.startOffset <= a && a < r.endOffset && r.endOffset - r.startOffset <= width) {
              width = r.endOffset - r.startOffset;
              count = r.count;
            }
          if (count > 0) features.add(`${sc.url}:${a}:${bucket(count)}`);
        }
      }
    }
    return features;
  }
  close(): void {
    this.#post('Profiler.stopPreciseCoverage');
    this.#s.disconnect();
  }
}

function lowerBound(a: number[], x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (a[m]! < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}
function insertSorted(a: number[], x: number): void {
  const i = lowerBound(a, x);
  if (a[i] !== x) a.splice(i, 0, x);
}
/** AFL's hit-count buckets. */
function bucket(n: number): number {
  return n <= 3 ? n : n <= 7 ? 4 : n <= 15 ? 8 : n <= 31 ? 16 : n <= 127 ? 32 : 128;
}

/** A seeded xorshift RNG, so a run is reproducible from its seed. */
class Rng implements RandomSource {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 0x9e3779b9;
  }
  u32(): number {
    let x = this.#s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (this.#s = x >>> 0);
  }
  below(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }
}

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0xc0, 0xc2, 0xc3, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd3, 0xd9, 0xdc, 0xde, 0xdf, 0x90, 0x9f, 0xa0, 0xbf];

export interface RunOptions {
  seeds: Buffer[];
  maxTotalTimeMs: number;
  maxRuns?: number;
  maxLen?: number;
  seed?: number;
  /** Called with each input that reached new coverage (to save it). */
  onNew?: (data: Buffer) => void;
  log?: (line: string) => void;
}

export interface RunResult {
  runs: number;
  corpus: number;
  features: number;
  seconds: number;
  finding?: { data: Buffer; error: unknown };
}

/** Run the harness on the seeds, then mutate until the time or run budget is spent or an oracle fails. */
export async function fuzz(h: Harness, opts: RunOptions): Promise<RunResult> {
  const rng = new Rng(opts.seed ?? Date.now());
  const maxLen = opts.maxLen ?? 4096;
  const cov = new Coverage(h.coverage);
  const seen = new Set<string>();
  const corpus: Buffer[] = [];
  const t0 = performance.now();
  let runs = 0;
  cov.take(); // drop what loading the harness ran
  const once = async (data: Buffer): Promise<{ error?: unknown; fresh: boolean }> => {
    runs++;
    let error: unknown;
    try {
      await h.fuzz(data);
    } catch (e) {
      error = e ?? new Error('threw a nullish value');
    }
    let fresh = false;
    for (const f of cov.take())
      if (!seen.has(f)) {
        seen.add(f);
        fresh = true;
      }
    return { error, fresh };
  };
  try {
    for (const s of opts.seeds.length ? opts.seeds : [Buffer.alloc(0)]) {
      const r = await once(s);
      if (r.error !== undefined) return { runs, corpus: corpus.length, features: seen.size, seconds: (performance.now() - t0) / 1e3, finding: { data: s, error: r.error } };
      corpus.push(s); // seeds stay, new or not
    }
    let lastLog = t0;
    while (performance.now() - t0 < opts.maxTotalTimeMs && (opts.maxRuns === undefined || runs < opts.maxRuns)) {
      const base = corpus[rng.below(corpus.length)]!;
      const custom = h.mutate && rng.below(2) ? h.mutate(base, rng) : null;
      const data = custom && custom.length <= maxLen ? custom : mutate(base, corpus, h.dict ?? [], rng, maxLen);
      const r = await once(data);
      if (r.error !== undefined) return { runs, corpus: corpus.length, features: seen.size, seconds: (performance.now() - t0) / 1e3, finding: { data, error: r.error } };
      if (r.fresh) {
        corpus.push(data);
        opts.onNew?.(data);
      }
      if (opts.log && performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        opts.log(`#${runs} cov: ${seen.size} corp: ${corpus.length} exec/s: ${Math.round(runs / ((lastLog - t0) / 1e3))}`);
      }
    }
  } finally {
    cov.close();
  }
  return { runs, corpus: corpus.length, features: seen.size, seconds: (performance.now() - t0) / 1e3 };
}

/** One to four stacked byte-level mutations of `base`. */
export function mutate(base: Buffer, corpus: Buffer[], dict: Uint8Array[], rng: RandomSource, maxLen: number): Buffer {
  let b = Buffer.from(base);
  const n = 1 + rng.below(4);
  for (let k = 0; k < n; k++) {
    const pos = rng.below(b.length + 1);
    switch (rng.below(10)) {
      case 0: // flip a bit
        if (b.length) b[rng.below(b.length)]! ^= 1 << rng.below(8);
        break;
      case 1: // a random byte
        if (b.length) b[rng.below(b.length)] = rng.below(256);
        break;
      case 2: // an interesting byte (msgpack markers, boundaries)
        if (b.length) b[rng.below(b.length)] = INTERESTING[rng.below(INTERESTING.length)]!;
        break;
      case 3: { // insert random bytes
        const ins = Buffer.alloc(1 + rng.below(8));
        for (let i = 0; i < ins.length; i++) ins[i] = rng.below(256);
        b = Buffer.concat([b.subarray(0, pos), ins, b.subarray(pos)]);
        break;
      }
      case 4: { // delete a range
        const len = 1 + rng.below(Math.min(16, Math.max(1, b.length - pos)));
        b = Buffer.concat([b.subarray(0, pos), b.subarray(pos + len)]);
        break;
      }
      case 5: { // duplicate a range
        if (!b.length) break;
        const s = rng.below(b.length), len = 1 + rng.below(Math.min(32, b.length - s));
        b = Buffer.concat([b.subarray(0, pos), b.subarray(s, s + len), b.subarray(pos)]);
        break;
      }
      case 6: { // splice with another corpus entry
        const o = corpus[rng.below(corpus.length)]!;
        const cut = rng.below(o.length + 1);
        b = Buffer.concat([b.subarray(0, pos), o.subarray(cut)]);
        break;
      }
      case 7:
      case 8: { // insert or overwrite with a dictionary entry
        if (!dict.length) break;
        const d = Buffer.from(dict[rng.below(dict.length)]!);
        if (rng.below(2)) b = Buffer.concat([b.subarray(0, pos), d, b.subarray(pos)]);
        else b = Buffer.concat([b.subarray(0, pos), d, b.subarray(Math.min(b.length, pos + d.length))]);
        break;
      }
      default: { // add to a byte (lengths, counts, numbers)
        if (b.length) {
          const i = rng.below(b.length);
          b[i] = (b[i]! + (rng.below(2) ? 1 : 255) * (1 + rng.below(4))) & 255;
        }
      }
    }
  }
  return b.length > maxLen ? b.subarray(0, maxLen) : b;
}

export function sha1(b: Uint8Array): string {
  return createHash('sha1').update(b).digest('hex');
}

/**
 * A structure-aware mutator for msgpack inputs: decode, change one node of the value tree
 * (replace it with an interesting value, drop or add a map key, nest it, nudge a number,
 * put an odd character into a string or a key), encode again. `keys` and `values` are the harness's
 * field names and hostile values (e.g. {toString: 1}, which String() cannot convert).
 */
export function msgpackTreeMutator(keys: string[], values: unknown[]): (data: Buffer, rng: RandomSource) => Buffer | null {
  const chars = ['\u0000', '\u0085', '\u009b', '\u00ad', '\u061c', '\u202e', '\u2066', '\u2028', '\u2029', '\u200b', '\ufeff', '\ud800', '\udc00', '\u{e0041}', ' ', '\n', '"', '\\'];
  const pick = <T>(a: readonly T[], rng: RandomSource): T => a[rng.below(a.length)]!;
  return (data, rng) => {
    let root: unknown;
    try {
      root = unpack(data);
    } catch {
      return null;
    }
    // every container (with the root wrapped) and the keys of its children
    const holder: Record<string, unknown> = { v: root };
    const slots: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
    const walk = (parent: Record<string, unknown> | unknown[], key: string | number, depth: number) => {
      slots.push({ parent, key });
      const v = (parent as Record<string | number, unknown>)[key];
      if (depth > 8 || v === null || typeof v !== 'object' || v instanceof Uint8Array) return;
      if (Array.isArray(v)) v.forEach((_x, i) => walk(v, i, depth + 1));
      else for (const k of Object.keys(v)) walk(v as Record<string, unknown>, k, depth + 1);
    };
    walk(holder, 'v', 0);
    const { parent, key } = pick(slots, rng);
    const p = parent as Record<string | number, unknown>;
    const cur = p[key];
    switch (rng.below(8)) {
      case 0:
      case 1:
        p[key] = pick(values, rng);
        break;
      case 2: // drop a key (or an array entry)
        if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else if (parent !== holder) delete p[key];
        break;
      case 3: // add a key to a map
        if (cur !== null && typeof cur === 'object' && !Array.isArray(cur) && !(cur instanceof Uint8Array))
          (cur as Record<string, unknown>)[pick(keys, rng)] = pick(values, rng);
        else p[key] = { [pick(keys, rng)]: cur };
        break;
      case 4: // nest
        p[key] = rng.below(2) ? [cur] : { [pick(keys, rng)]: cur };
        break;
      case 5: // nudge a number
        if (typeof cur === 'number') p[key] = pick([cur + 1, cur - 1, -cur, cur * 2 ** 32, cur / 3, NaN, Infinity, -0, 2 ** 53, 2 ** 32], rng);
        else p[key] = pick(values, rng);
        break;
      case 6: // an odd character into a map key
        if (!Array.isArray(parent) && parent !== holder && typeof key === 'string') {
          const i = rng.below(key.length + 1);
          delete p[key];
          p[key.slice(0, i) + pick(chars, rng) + key.slice(i)] = cur;
          break;
        }
      // falls through
      default: // an odd character into a string
        if (typeof cur === 'string') {
          const i = rng.below(cur.length + 1);
          p[key] = cur.slice(0, i) + pick(chars, rng) + cur.slice(i);
        } else p[key] = pick(chars, rng);
    }
    try {
      return Buffer.from(pack(holder.v));
    } catch {
      return null;
    }
  };
}

/** Hostile values every msgpack harness tries. */
export const HOSTILE_VALUES: unknown[] = [
  { toString: 1 }, { valueOf: 1 }, { toString: 1, valueOf: 1 }, JSON.parse('{"__proto__": 1}'), { constructor: 1 },
  null, true, false, 0, -1, 1.5, -0, NaN, Infinity, -Infinity, 2 ** 32, 2 ** 53, -(2 ** 63), 1n << 63n,
  '', ' ', 'x'.repeat(300), '\u0085', '\u202e', '\u2028', '\ud800', [], [[]], {}, new Uint8Array([1, 2]),
];

/**
 * Spaces, as Gymnasium 1.x defines them: what values an observation or an action may take.
 * Each space can check a value (a clear {@link ArgumentError} naming what is wrong),
 * sample one from its own seeded RNG, describe itself as JSON (for external learners) and
 * be batched for vector environments (`batchSpace`, `concatenate`, `iterate`, as
 * `gymnasium.vector.utils`).
 *
 * Values in TypeScript: Box → a typed array of `prod(shape)` elements in row-major order
 * (Uint8Array for uint8, Float32Array for float32; plain number arrays are accepted as
 * input); Discrete → an integer; MultiBinary / MultiDiscrete → an Int8Array / Int32Array
 * (number arrays accepted); Dict → an object with exactly the space's keys.
 */
import { ArgumentError } from '../../sdk/src/errors.js';
import { Rng } from '../../world/src/rng.js';

/** Element type of a {@link Box}. */
export type BoxDType = 'uint8' | 'float32';
/** A value of a {@link Box}: its elements in row-major order. */
export type BoxValue = Uint8Array | Float32Array;
/** A value of any space: a number (Discrete), a typed array (Box, MultiBinary, MultiDiscrete) or an object (Dict). */
export type SpaceValue = number | BoxValue | Int8Array | Int32Array | { [key: string]: SpaceValue };

/** A space as JSON: `{type: 'Box', shape, dtype, low, high}`, `{type: 'Discrete', n, start}`, … */
export type SpaceJSON = BoxJSON | DiscreteJSON | MultiBinaryJSON | MultiDiscreteJSON | DictJSON;
/** A {@link Box} as JSON. */
export interface BoxJSON {
  /** `'Box'`. */
  type: 'Box';
  /** Dimensions. */
  shape: number[];
  /** Element type. */
  dtype: BoxDType;
  /** Lower bound of each element (row-major). */
  low: number[];
  /** Upper bound of each element (row-major). */
  high: number[];
}
/** A {@link Discrete} as JSON. */
export interface DiscreteJSON {
  /** `'Discrete'`. */
  type: 'Discrete';
  /** Number of values. */
  n: number;
  /** The smallest value. */
  start: number;
}
/** A {@link MultiBinary} as JSON. */
export interface MultiBinaryJSON {
  /** `'MultiBinary'`. */
  type: 'MultiBinary';
  /** Dimensions. */
  shape: number[];
}
/** A {@link MultiDiscrete} as JSON. */
export interface MultiDiscreteJSON {
  /** `'MultiDiscrete'`. */
  type: 'MultiDiscrete';
  /** Number of values of each element. */
  nvec: number[];
}
/** A {@link Dict} as JSON. */
export interface DictJSON {
  /** `'Dict'`. */
  type: 'Dict';
  /** The sub-spaces by key. */
  spaces: Record<string, SpaceJSON>;
}

const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

function checkShape(shape: readonly number[], where: string): number[] {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 1)) throw new ArgumentError(`${where}: shape must be a list of positive integers`, 'ARGUMENT');
  return [...shape];
}

function isArrayLike(x: unknown): x is ArrayLike<unknown> {
  return Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView));
}

/** The base of every space: a seeded RNG for {@link sample}. */
export abstract class Space<T extends SpaceValue = SpaceValue> {
  /** @internal The sampler's RNG. */
  protected rng = new Rng(0);
  /** Seed the space's sampler (Gymnasium's `space.seed`). */
  seed(seed: number): void {
    this.rng = new Rng(seed);
  }
  /** The value as this space's canonical type; throws an ArgumentError saying what is wrong. */
  abstract check(x: unknown, where?: string): T;
  /** Whether `x` is a member of the space. */
  contains(x: unknown): boolean {
    try {
      this.check(x);
      return true;
    } catch {
      return false;
    }
  }
  /** A random member. */
  abstract sample(): T;
  /** The space as JSON (for external learners; {@link spaceFromJSON} reads it back). */
  abstract toJSON(): SpaceJSON;
}

/** A box in R^shape with per-element bounds, uint8 or float32. */
export class Box extends Space<BoxValue> {
  /** Dimensions. */
  readonly shape: number[];
  /** Element type. */
  readonly dtype: BoxDType;
  /** Lower bound of each element (row-major). */
  readonly low: Float64Array;
  /** Upper bound of each element (row-major). */
  readonly high: Float64Array;
  constructor(low: number | ArrayLike<number>, high: number | ArrayLike<number>, shape: readonly number[], dtype: BoxDType = 'float32') {
    super();
    this.shape = checkShape(shape, 'Box');
    this.dtype = dtype;
    const n = prod(this.shape);
    const fill = (v: number | ArrayLike<number>, name: string): Float64Array => {
      if (typeof v === 'number') return new Float64Array(n).fill(v);
      if (v.length !== n) throw new ArgumentError(`Box: ${name} has ${v.length} values; shape [${this.shape}] has ${n}`, 'ARGUMENT');
      return Float64Array.from(v);
    };
    this.low = fill(low, 'low');
    this.high = fill(high, 'high');
    for (let i = 0; i < n; i++) {
      if (Number.isNaN(this.low[i]) || Number.isNaN(this.high[i]) || this.low[i]! > this.high[i]!) throw new ArgumentError(`Box: low[${i}] = ${this.low[i]} is not ≤ high[${i}] = ${this.high[i]}`, 'ARGUMENT');
    }
  }
  /** Number of elements. */
  get size(): number {
    return this.low.length;
  }
  check(x: unknown, where = 'value'): BoxValue {
    if (!isArrayLike(x)) throw new ArgumentError(`${where}: expected ${this.describe()}, got ${typeName(x)}`, 'ARGUMENT');
    if (x.length !== this.size) throw new ArgumentError(`${where}: expected ${this.size} values (shape [${this.shape}]), got ${x.length}`, 'ARGUMENT');
    const out = this.dtype === 'uint8' ? (x instanceof Uint8Array ? x : new Uint8Array(this.size)) : x instanceof Float32Array ? x : new Float32Array(this.size);
    for (let i = 0; i < this.size; i++) {
      const v = x[i];
      if (typeof v !== 'number' || Number.isNaN(v)) throw new ArgumentError(`${where}[${i}]: ${String(v)} is not a number`, 'ARGUMENT');
      if (v < this.low[i]! || v > this.high[i]!) throw new ArgumentError(`${where}[${i}] = ${v} is outside [${this.low[i]}, ${this.high[i]}]`, 'ARGUMENT');
      if (this.dtype === 'uint8' && !Number.isInteger(v)) throw new ArgumentError(`${where}[${i}] = ${v} is not an integer (uint8 box)`, 'ARGUMENT');
      if (out !== x) out[i] = v;
    }
    return out;
  }
  /** Uniform in bounded dimensions; normal / exponential on unbounded sides (as Gymnasium). */
  sample(): BoxValue {
    const out = this.dtype === 'uint8' ? new Uint8Array(this.size) : new Float32Array(this.size);
    for (let i = 0; i < this.size; i++) {
      const lo = this.low[i]!;
      const hi = this.high[i]!;
      let v: number;
      if (Number.isFinite(lo) && Number.isFinite(hi)) v = this.dtype === 'uint8' ? lo + Math.floor(this.rng.next() * (hi - lo + 1)) : this.rng.range(lo, hi);
      else if (Number.isFinite(lo)) v = lo - Math.log(1 - this.rng.next());
      else if (Number.isFinite(hi)) v = hi + Math.log(1 - this.rng.next());
      else v = normal(this.rng);
      out[i] = v;
    }
    return out;
  }
  /** {@inheritDoc Space.toJSON} */
  toJSON(): SpaceJSON {
    return { type: 'Box', shape: this.shape, dtype: this.dtype, low: Array.from(this.low), high: Array.from(this.high) };
  }
  /** A short description, as error messages use it. */
  describe(): string {
    return `a ${this.dtype} array of shape [${this.shape}]`;
  }
}

/** Integers start, start + 1, …, start + n − 1. */
export class Discrete extends Space<number> {
  constructor(
    /** Number of values. */
    readonly n: number,
    /** The smallest value. */
    readonly start = 0,
  ) {
    super();
    if (!Number.isInteger(n) || n < 1 || !Number.isInteger(start)) throw new ArgumentError('Discrete: n must be a positive integer and start an integer', 'ARGUMENT');
  }
  check(x: unknown, where = 'value'): number {
    if (typeof x !== 'number' || !Number.isInteger(x)) throw new ArgumentError(`${where}: expected an integer in [${this.start}, ${this.start + this.n - 1}], got ${typeName(x)}`, 'ARGUMENT');
    if (x < this.start || x >= this.start + this.n) throw new ArgumentError(`${where} = ${x} is outside [${this.start}, ${this.start + this.n - 1}]`, 'ARGUMENT');
    return x;
  }
  sample(): number {
    return this.start + this.rng.int(this.n);
  }
  /** {@inheritDoc Space.toJSON} */
  toJSON(): SpaceJSON {
    return { type: 'Discrete', n: this.n, start: this.start };
  }
}

/** Vectors of 0/1. */
export class MultiBinary extends Space<Int8Array> {
  /** Dimensions. */
  readonly shape: number[];
  constructor(n: number | readonly number[]) {
    super();
    this.shape = checkShape(typeof n === 'number' ? [n] : n, 'MultiBinary');
  }
  /** Number of elements. */
  get size(): number {
    return prod(this.shape);
  }
  check(x: unknown, where = 'value'): Int8Array {
    if (!isArrayLike(x)) throw new ArgumentError(`${where}: expected ${this.size} values of 0 or 1, got ${typeName(x)}`, 'ARGUMENT');
    if (x.length !== this.size) throw new ArgumentError(`${where}: expected ${this.size} values of 0 or 1 (shape [${this.shape}]), got ${x.length}`, 'ARGUMENT');
    const out = x instanceof Int8Array ? x : new Int8Array(this.size);
    for (let i = 0; i < this.size; i++) {
      const v = x[i];
      if (v !== 0 && v !== 1 && v !== true && v !== false) throw new ArgumentError(`${where}[${i}] = ${String(v)} is not 0 or 1`, 'ARGUMENT');
      if (out !== x) out[i] = v === 1 || v === true ? 1 : 0;
    }
    return out;
  }
  sample(): Int8Array {
    return Int8Array.from({ length: this.size }, () => (this.rng.next() < 0.5 ? 0 : 1));
  }
  /** {@inheritDoc Space.toJSON} */
  toJSON(): SpaceJSON {
    return { type: 'MultiBinary', shape: this.shape };
  }
}

/** Vectors whose element i is an integer in [0, nvec[i]). */
export class MultiDiscrete extends Space<Int32Array> {
  /** Number of values of each element. */
  readonly nvec: number[];
  constructor(nvec: readonly number[]) {
    super();
    this.nvec = checkShape(nvec, 'MultiDiscrete');
  }
  check(x: unknown, where = 'value'): Int32Array {
    if (!isArrayLike(x) || x.length !== this.nvec.length) throw new ArgumentError(`${where}: expected ${this.nvec.length} integers, got ${isArrayLike(x) ? `${x.length} values` : typeName(x)}`, 'ARGUMENT');
    const out = x instanceof Int32Array ? x : new Int32Array(this.nvec.length);
    for (let i = 0; i < this.nvec.length; i++) {
      const v = x[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= this.nvec[i]!) throw new ArgumentError(`${where}[${i}] = ${String(v)} is not an integer in [0, ${this.nvec[i]! - 1}]`, 'ARGUMENT');
      if (out !== x) out[i] = v;
    }
    return out;
  }
  sample(): Int32Array {
    return Int32Array.from(this.nvec, (n) => this.rng.int(n));
  }
  /** {@inheritDoc Space.toJSON} */
  toJSON(): SpaceJSON {
    return { type: 'MultiDiscrete', nvec: this.nvec };
  }
}

/** Named sub-spaces; a value has exactly these keys. */
export class Dict extends Space<{ [key: string]: SpaceValue }> {
  /** The sub-spaces by key. */
  readonly spaces: Readonly<Record<string, Space>>;
  constructor(spaces: Record<string, Space>) {
    super();
    if (Object.keys(spaces).length === 0) throw new ArgumentError('Dict: needs at least one sub-space', 'ARGUMENT');
    this.spaces = { ...spaces };
  }
  override seed(seed: number): void {
    super.seed(seed);
    Object.values(this.spaces).forEach((s, i) => s.seed(seed + i));
  }
  check(x: unknown, where = 'value'): { [key: string]: SpaceValue } {
    if (x === null || typeof x !== 'object' || isArrayLike(x)) throw new ArgumentError(`${where}: expected an object with keys ${Object.keys(this.spaces).join(', ')}, got ${typeName(x)}`, 'ARGUMENT');
    const o = x as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!(k in this.spaces)) throw new ArgumentError(`${where}: unknown key "${k}"; expected ${Object.keys(this.spaces).join(', ')}`, 'ARGUMENT');
    const out: { [key: string]: SpaceValue } = {};
    for (const [k, s] of Object.entries(this.spaces)) {
      if (!(k in o)) throw new ArgumentError(`${where}: missing key "${k}"`, 'ARGUMENT');
      out[k] = s.check(o[k], `${where}.${k}`);
    }
    return out;
  }
  sample(): { [key: string]: SpaceValue } {
    return Object.fromEntries(Object.entries(this.spaces).map(([k, s]) => [k, s.sample()]));
  }
  /** {@inheritDoc Space.toJSON} */
  toJSON(): SpaceJSON {
    return { type: 'Dict', spaces: Object.fromEntries(Object.entries(this.spaces).map(([k, s]) => [k, s.toJSON()])) };
  }
}

/** The space of n stacked values (gymnasium.vector.utils.batch_space). */
export function batchSpace(space: Space, n: number): Space {
  if (!Number.isInteger(n) || n < 1) throw new ArgumentError('batchSpace: n must be a positive integer', 'ARGUMENT');
  if (space instanceof Box) {
    const tile = (a: Float64Array): Float64Array => {
      const o = new Float64Array(a.length * n);
      for (let i = 0; i < n; i++) o.set(a, i * a.length);
      return o;
    };
    return new Box(tile(space.low), tile(space.high), [n, ...space.shape], space.dtype);
  }
  if (space instanceof Discrete) {
    if (space.start !== 0) throw new ArgumentError('batchSpace: a Discrete space with start ≠ 0 has no batched form here', 'ARGUMENT');
    return new MultiDiscrete(Array(n).fill(space.n));
  }
  if (space instanceof MultiBinary) return new MultiBinary([n, ...space.shape]);
  if (space instanceof MultiDiscrete) return new MultiDiscrete(Array.from({ length: n }, () => space.nvec).flat());
  if (space instanceof Dict) return new Dict(Object.fromEntries(Object.entries(space.spaces).map(([k, s]) => [k, batchSpace(s, n)])));
  throw new ArgumentError('batchSpace: unknown space', 'ARGUMENT');
}

/** Stack n values of `space` into one value of `batchSpace(space, n)`. */
export function concatenate(space: Space, items: readonly SpaceValue[]): SpaceValue {
  if (space instanceof Discrete) return Int32Array.from(items as number[]);
  if (space instanceof Dict) return Object.fromEntries(Object.entries(space.spaces).map(([k, s]) => [k, concatenate(s, items.map((it) => (it as Record<string, SpaceValue>)[k]!))]));
  const size = space instanceof Box ? space.size : space instanceof MultiBinary ? space.size : (space as MultiDiscrete).nvec.length;
  const total = size * items.length;
  const out = space instanceof Box ? (space.dtype === 'uint8' ? new Uint8Array(total) : new Float32Array(total)) : space instanceof MultiBinary ? new Int8Array(total) : new Int32Array(total);
  items.forEach((it, i) => out.set(it as ArrayLike<number>, i * size));
  return out;
}

/** Split a value of `batchSpace(space, n)` into its n values, each checked against `space`. */
export function iterate(space: Space, batched: unknown, n: number, where = 'actions'): SpaceValue[] {
  if (space instanceof Dict) {
    if (batched === null || typeof batched !== 'object' || isArrayLike(batched)) throw new ArgumentError(`${where}: expected an object with keys ${Object.keys(space.spaces).join(', ')}`, 'ARGUMENT');
    const parts = Object.fromEntries(Object.entries(space.spaces).map(([k, s]) => [k, iterate(s, (batched as Record<string, unknown>)[k], n, `${where}.${k}`)]));
    return Array.from({ length: n }, (_, i) => space.check(Object.fromEntries(Object.keys(space.spaces).map((k) => [k, parts[k]![i]])), `${where}[${i}]`));
  }
  if (!isArrayLike(batched)) throw new ArgumentError(`${where}: expected ${n} stacked values, got ${typeName(batched)}`, 'ARGUMENT');
  if (space instanceof Discrete) {
    if (batched.length !== n) throw new ArgumentError(`${where}: expected ${n} values, got ${batched.length}`, 'ARGUMENT');
    return Array.from({ length: n }, (_, i) => space.check(batched[i], `${where}[${i}]`));
  }
  const size = space instanceof Box || space instanceof MultiBinary ? space.size : (space as MultiDiscrete).nvec.length;
  if (batched.length !== size * n) throw new ArgumentError(`${where}: expected ${n} × ${size} values, got ${batched.length}`, 'ARGUMENT');
  const slice = (i: number): unknown => (ArrayBuffer.isView(batched) ? (batched as unknown as Float32Array).subarray(i * size, (i + 1) * size) : (batched as unknown[]).slice(i * size, (i + 1) * size));
  return Array.from({ length: n }, (_, i) => space.check(slice(i), `${where}[${i}]`));
}

/** A space from its JSON description. */
export function spaceFromJSON(j: SpaceJSON): Space {
  switch (j.type) {
    case 'Box':
      return new Box(j.low, j.high, j.shape, j.dtype);
    case 'Discrete':
      return new Discrete(j.n, j.start);
    case 'MultiBinary':
      return new MultiBinary(j.shape);
    case 'MultiDiscrete':
      return new MultiDiscrete(j.nvec);
    case 'Dict':
      return new Dict(Object.fromEntries(Object.entries(j.spaces).map(([k, s]) => [k, spaceFromJSON(s)])));
  }
}

function normal(rng: Rng): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

function typeName(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return `an array of ${x.length}`;
  if (ArrayBuffer.isView(x)) return `a ${x.constructor.name}`;
  return typeof x === 'object' ? 'an object' : `${typeof x} ${String(x)}`;
}

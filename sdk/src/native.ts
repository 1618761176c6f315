/**
 * The native addon's shape (internal). Users import the SDK, never this.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { KvDType, KvSelection } from './kvtypes.js';
import type {
  DecoderConfig,
  DecoderStreamStats,
  KvPage,
  KvStats,
  ModelInfo,
  SessionLayout,
  SessionStats,
  StageTimes,
  WeightType,
} from './types.js';


export interface NativeBlock {
  x0: Float32Array;
  frameStart: number;
  frames: number;
  channels: number;
  height: number;
  width: number;
  forwards: number;
  seconds: number;
  times: StageTimes;
}







export interface NativeSession {
  fork(opts?: { seed?: number | bigint }): Promise<NativeSession>;
  setSelection(sel: KvSelection): Promise<void>;
  kvPages(): KvPage[];
  step(opts?: { actions?: Float32Array; geometry?: Float32Array; noise?: Float32Array[] }): Promise<NativeBlock>;
  probe(x: Float32Array, t: Float32Array, actions?: Float32Array, geometry?: Float32Array): Promise<Float32Array>;
  commit(x0: Float32Array, actions?: Float32Array, geometry?: Float32Array): Promise<void>;
  setPrompt(embedding: Float32Array): Promise<void>;
  setImageLatent(latent: Float32Array): Promise<void>;
  setWindow(localAttnSize: number, sinkSize: number): Promise<void>;
  stats(): Promise<SessionStats>;
  close(): Promise<void>;
  readonly closed: boolean;
  readonly layout: SessionLayout;
}


export interface NativeModel {
  config(): Record<string, unknown>;
  info(): ModelInfo;
  kvStats(): KvStats;
  stepBatch(items: { session: NativeSession; actions?: Float32Array; geometry?: Float32Array; noise?: Float32Array[] }[]): Promise<({ block: NativeBlock } | { error: Error })[]>;
  createSession(opts?: {
    seed?: number | bigint;
    kvDtype?: KvDType;
    foldCommit?: boolean;
    localAttnSize?: number;
    sinkSize?: number;
    latentHeight?: number;
    latentWidth?: number;
  }): NativeSession;
  close(): void;
  readonly closed: boolean;
}

export interface NativeTesting {
  cpu(): { features: string; best: string; active: string };
  setIsa(isa: 'scalar' | 'avx2' | 'avx512'): string;
  gemm(x: Float32Array, M: number, K: number, W: Float32Array, N: number, bias: Float32Array | null, isa: string | null, epilogue: number, ref?: boolean, opts?: { weights?: WeightType; dot?: boolean }): Float32Array;
  gemmPath(isa: string | null, weights: WeightType, dot?: boolean): string;
  benchGemm(M: number, K: number, N: number, weights: WeightType, threads: number, reps: number, dot?: boolean, epilogue?: number): { seconds: number[]; path: string; isa: string };
  attention(q: Float32Array, nQ: number, spans: { k: Float32Array; v: Float32Array; tokens: number; type?: KvDType }[], nHeads: number, headDim: number, ref?: boolean, opts?: { isa?: 'scalar' | 'avx2' | 'avx512'; strategy?: 'auto' | 'heads' | 'sequence'; dot?: boolean }): Float32Array;
  benchAttention(nQ: number, frames: number, tokensPerFrame: number, heads: number, headDim: number, type: KvDType, reps: number, strategy?: 'auto' | 'heads' | 'sequence', threads?: number, opts?: { samples?: number; which?: 'both' | 'paged' | 'contiguous' }): { pagesSec: number; contiguousSec: number; pagesSamples: number[]; contiguousSamples: number[]; auto: 'heads' | 'sequence' };
  quantizeI8(x: Float32Array, tokens: number, heads: number, headDim: number): { q: Int8Array; scales: Float32Array; back: Float32Array };
  norm(kind: 'layer' | 'layer_mod' | 'rms', x: Float32Array, rows: number, dim: number, eps: number, a: Float32Array | null, b: Float32Array | null): Float32Array;
  rope(x: Float32Array, F: number, H: number, W: number, frameStart: number, nHeads: number, headDim: number, ref?: boolean): Float32Array;
  parseSafetensors(bytes: Uint8Array): { name: string; dtype: string; shape: number[]; nbytes: number }[];
  parseConfig(text: string): { dim: number; num_heads: number; num_layers: number; actionSize: number };
  philox(ctr: number[], key: number[]): number[];
  normals(seed: number | bigint, blockFirstFrame: number, step: number, n: number): Float32Array;
  schedule(shift: number, n: number, steps: number[], warp: boolean): { steps: number[]; sigmas: number[] };
  sinusoid(t: number, dim: number): Float32Array;
}

export interface NativeDecoded<T> {
  frames: T[];
  channels: number;
  height: number;
  width: number;
  seconds: number;
  latentFrames: number;
  framesOut: number;
}

export interface NativeDecoderStream {
  decode(latents: Float32Array, frames: number, height: number, width: number): Promise<NativeDecoded<Buffer>>;
  decodeF32(latents: Float32Array, frames: number, height: number, width: number): Promise<NativeDecoded<Float32Array>>;
  fork(): Promise<NativeDecoderStream>;
  reset(): Promise<void>;
  stats(): Promise<DecoderStreamStats>;
  close(): Promise<void>;
  readonly closed: boolean;
}

export interface NativeDecoder {
  config(): DecoderConfig;
  info(): { dir: string; isa: string; threads: number; weightBytes: number };
  createStream(): NativeDecoderStream;
  close(): void;
  readonly closed: boolean;
}

export interface NativeDecoderTesting {
  conv2d(
    inputs: { data: Float32Array; channels: number; up2?: boolean }[],
    H: number, W: number, weight: Float32Array, bias: Float32Array | null, cout: number, k: number,
    opts?: { isa?: 'scalar' | 'avx2' | 'avx512'; residual?: Float32Array; relu?: boolean; ref?: boolean; threads?: number },
  ): Float32Array;
  upsample2(x: Float32Array, C: number, H: number, W: number): Float32Array;
  frameToU8(x: Float32Array, C: number, H: number, W: number): Uint8Array;
  parseConfig(text: string): DecoderConfig;
}

export interface NativeAddon {
  Model: new (dir: string, opts?: { threads?: number; weights?: WeightType; kv?: { budgetBytes?: number; dtype?: KvDType } }) => NativeModel;
  Session: unknown;
  testing: NativeTesting;
  Decoder: new (dir: string, opts?: { threads?: number }) => NativeDecoder;
  decoderTesting: NativeDecoderTesting;
  profiler: {
    start(): void;
    stop(): { names: string[]; cats: string[]; data: Float64Array };
    now(): number;
  };
}

function findAddon(): string {
  // WORLDCAST_ADDON points at another build of the addon (e.g. a debug or sanitizer build).
  const override = process.env.WORLDCAST_ADDON;
  if (override) return resolve(override);
  // From sdk/src (tsx/vitest) or dist/sdk/src (compiled): walk up to the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'build', 'Release', 'worldcast.node');
    if (existsSync(candidate)) return candidate;
    dir = resolve(dir, '..');
  }
  throw new Error('worldcast native addon not found: run `npm install` (it builds build/Release/worldcast.node)');
}

const require = createRequire(import.meta.url);
let cached: NativeAddon | undefined;

/** Load the addon once. */
export function native(): NativeAddon {
  cached ??= require(findAddon()) as NativeAddon;
  return cached;
}

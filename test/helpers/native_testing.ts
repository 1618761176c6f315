/**
 * The test addon, build/Release/worldcast_testing.node: the shipped addon's API plus the
 * kernel, parser and RNG test hooks (`testing`, `decoderTesting`) and setIsa, which flips
 * the process-wide SIMD level. Only tests and benchmarks load it; the SDK never does, and
 * the shipped worldcast.node has none of these hooks (test/addon_exports.test.ts).
 *
 * The two addons link the same static engine, so each has its own copy of the engine's
 * globals: setIsa here changes the ISA of this addon's Models, kernels and decoders only,
 * never those created through the SDK (which loads worldcast.node).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { NativeAddon } from '../../sdk/src/native.js';
import type { DecoderConfig, WeightType } from '../../sdk/src/types.js';
import type { KvDType } from '../../sdk/src/kvtypes.js';

export interface NativeTesting {
  cpu(): { features: string; best: string; active: string };
  setIsa(isa: 'scalar' | 'avx2' | 'avx512'): string;
  gemm(x: Float32Array, M: number, K: number, W: Float32Array, N: number, bias: Float32Array | null, isa: string | null, epilogue: number, ref?: boolean, opts?: { weights?: WeightType; dot?: boolean | 'amx' }): Float32Array;
  gemmPath(isa: string | null, weights: WeightType, dot?: boolean | 'amx'): string;
  benchGemm(M: number, K: number, N: number, weights: WeightType, threads: number, reps: number, dot?: boolean | 'amx', epilogue?: number): { seconds: number[]; path: string; isa: string };
  attention(q: Float32Array, nQ: number, spans: { k: Float32Array; v: Float32Array; tokens: number; type?: KvDType }[], nHeads: number, headDim: number, ref?: boolean, opts?: { isa?: 'scalar' | 'avx2' | 'avx512'; strategy?: 'auto' | 'heads' | 'sequence'; dot?: boolean | 'amx' }): Float32Array;
  benchAttention(nQ: number, frames: number, tokensPerFrame: number, heads: number, headDim: number, type: KvDType, reps: number, strategy?: 'auto' | 'heads' | 'sequence', threads?: number, opts?: { samples?: number; which?: 'both' | 'paged' | 'contiguous'; compare?: false }): { pagesSec: number; contiguousSec: number; pagesSamples: number[]; contiguousSamples: number[]; auto: 'heads' | 'sequence' };
  /** Both strategies over the pages and Auto's over one contiguous span, interleaved sample by sample (medians; ratios are medians of per-sample ratios). */
  benchAttention(nQ: number, frames: number, tokensPerFrame: number, heads: number, headDim: number, type: KvDType, reps: number, strategy: undefined, threads: number | undefined, opts: { samples?: number; compare: true }): { headsSec: number; sequenceSec: number; contiguousSec: number; autoOverOther: number; pagedOverContiguous: number; auto: 'heads' | 'sequence' };
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

export interface NativeDecoderTesting {
  conv2d(
    inputs: { data: Float32Array; channels: number; up2?: boolean }[],
    H: number, W: number, weight: Float32Array, bias: Float32Array | null, cout: number, k: number,
    opts?: { isa?: 'scalar' | 'avx2' | 'avx512'; residual?: Float32Array; relu?: boolean; ref?: boolean; threads?: number; precision?: 'f32' | 'bf16'; algo?: 'auto' | 'direct' | 'winograd' | 'fft'; amx?: boolean },
  ): Float32Array;
  upsample2(x: Float32Array, C: number, H: number, W: number): Float32Array;
  frameToU8(x: Float32Array, C: number, H: number, W: number): Uint8Array;
  parseConfig(text: string): DecoderConfig;
  /** A decoder loaded at `isa` / `precision` (amx: false = VDPBF16PS kernels), `blocks` streamed on one stream, synchronously: every frame (C, H, W). */
  decode(
    dir: string,
    opts: { isa?: 'scalar' | 'avx2' | 'avx512'; precision?: 'f32' | 'bf16'; amx?: boolean },
    blocks: { latents: Float32Array; frames: number; height: number; width: number; geometry?: Float32Array }[],
  ): Float32Array[];
}

export interface NativeTestingAddon extends NativeAddon {
  testing: NativeTesting;
  decoderTesting: NativeDecoderTesting;
}

/** Where the test addon is: $WORLDCAST_TESTING_ADDON, else next to $WORLDCAST_ADDON, else build/Release. */
export function testingAddonPath(): string {
  const override = process.env.WORLDCAST_TESTING_ADDON;
  if (override) return resolve(override);
  // A sanitizer or debug build named by WORLDCAST_ADDON has its test addon beside it.
  const shipped = process.env.WORLDCAST_ADDON;
  if (shipped) return join(dirname(resolve(shipped)), 'worldcast_testing.node');
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'build', 'Release', 'worldcast_testing.node');
    if (existsSync(candidate)) return candidate;
    dir = resolve(dir, '..');
  }
  throw new Error('worldcast test addon not found: run `npm run build:native` (it builds build/Release/worldcast_testing.node)');
}

const require = createRequire(import.meta.url);
let cached: NativeTestingAddon | undefined;

/** Load the test addon once. */
export function nativeTesting(): NativeTestingAddon {
  cached ??= require(testingAddonPath()) as NativeTestingAddon;
  return cached;
}

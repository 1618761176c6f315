/**
 * Plain data shapes the SDK returns (shared with the native addon's typings).
 */

/** Seconds spent per forward stage (q/k norm+RoPE is "rope"). */
export interface StageTimes {
  gemm: number;
  attention: number;
  norm: number;
  rope: number;
  other: number;
}

/** A session's block geometry: frames per block, latent channels and size, action vector size, the sampler's timesteps. */
export interface SessionLayout {
  frames: number;
  channels: number;
  height: number;
  width: number;
  actionSize: number;
  steps: number;
  timesteps: number[];
}

/** A session's position, KV frames and bytes, prompt cache bytes and accumulated stage times. */
export interface SessionStats {
  nextFrame: number;
  kvFrames: number;
  kvBytes: number;
  crossBytes: number;
  times: StageTimes;
}

/** One committed frame a session holds: its page id and how many sessions share it. */
export interface KvPage {
  frame: number;
  page: number;
  refs: number;
}

/** The model's KV pool: budget, bytes in use and reserved, pages, bytes by dtype, prompt caches, waste. */
export interface KvStats {
  budgetBytes: number;
  usedBytes: number;
  reservedBytes: number;
  availableBytes: number;
  sessions: number;
  pages: { used: number; shared: number; free: number; total: number; cached: number; refs: number; pageBytes: number };
  bytesByDtype: { f32: number; bf16: number; int8: number };
  crossCaches: number;
  crossBytes: number;
  payloadBytes: number;
  wasteBytes: number;
  wastePercent: number;
}

/** Storage type of the linear layers' weights: f32, bf16 (round to nearest even) or int8 (Q8_0-like: one f32 scale per output column per 32 inputs). */
export type WeightType = 'f32' | 'bf16' | 'int8';

/** Where the weights came from, the SIMD level in use, thread count and weight bytes. */
export interface ModelInfo {
  dir: string;
  isa: string;
  /** Storage of the linears' weights (LoadOptions.weights). */
  weights: WeightType;
  /** The GEMM kernel family they run: 'f32', 'bf16_dot' / 'int8_dot' (AVX512_BF16 / AVX512_VNNI, activations converted too) or 'bf16_widen' / 'int8_widen' (weights widened to f32). */
  gemmPath: string;
  cpuFeatures: string;
  threads: number;
  weightBytes: number;
}

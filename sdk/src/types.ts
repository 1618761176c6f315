/**
 * Plain data shapes the SDK returns (shared with the native addon's typings).
 */

/** Seconds spent per forward stage (q/k norm+RoPE is "rope"). */
export interface StageTimes {
  /** The linear layers' matrix multiplies. */
  gemm: number;
  /** Self- and cross-attention. */
  attention: number;
  /** Layer/RMS norms and the timestep modulation. */
  norm: number;
  /** The q/k RMSNorm fused with the 3D RoPE. */
  rope: number;
  /** Everything else: patchify, time embedding, residual/gating, unpatchify, KV commit. */
  other: number;
}

/** A session's block geometry: frames per block, latent channels and size, action vector size, the sampler's timesteps. */
export interface SessionLayout {
  /** Latent frames per block (config.json `num_frame_per_block`): the most a step takes. */
  frames: number;
  /** The fewest latent frames a step takes (createSession's `minBlockFrames`; default `frames`). */
  minFrames: number;
  /** Latent channels of a block (config.json `in_dim`, less the i2v mask and image channels). */
  channels: number;
  /** Latent frame height of this session. */
  height: number;
  /** Latent frame width of this session. */
  width: number;
  /** Floats of one frame's action row: the action vector (0 when the model takes no actions). */
  actionSize: number;
  /** Floats of a block's geometry map input, [channels, F, H, W] (0 when the model takes none). */
  geometrySize: number;
  /** Denoising steps per block (the length of `timesteps`). */
  steps: number;
  /**
   * The timestep of each denoising step, in order: config.json `denoising_step_list` (or
   * loadModel's `denoisingSteps`), mapped through the shifted schedule when
   * `warp_denoising_step` is set.
   */
  timesteps: number[];
  /**
   * Blocks in flight in the staggered pipeline (config.json `"schedule": {"type":
   * "staggered", "window": W}`), 0 for the block loop. With W > 0 each step() enters a block
   * and returns the one that completed: the first W − 1 return no frames, and a block's
   * actions show W − 1 steps later.
   */
  window: number;
  /** Model forwards of one step() call (steps + commit for the block loop, steps / window staggered). */
  forwardsPerCall: number;
  /**
   * Whether each block's commit pass is held back, to be folded into the next step's first
   * forward or run earlier by {@link Model.commitPending} (the `foldCommit` option; always
   * for a staggered schedule).
   */
  foldCommit: boolean;
}

/** A session's position, KV frames and bytes, prompt cache bytes and accumulated stage times. */
export interface SessionStats {
  /** Absolute index of the latent frame the next block starts at. */
  nextFrame: number;
  /** Committed frames in the session's page table. */
  kvFrames: number;
  /** Bytes of the KV pages the session references (pages shared with other sessions included). */
  kvBytes: number;
  /** Bytes of the prompt's cross-attention cache the session uses (0 without a prompt). */
  crossBytes: number;
  /** Stage seconds accumulated over every block of the session. */
  times: StageTimes;
}

/** One committed frame a session holds: its page id and how many sessions share it. */
export interface KvPage {
  /** Absolute latent frame index. */
  frame: number;
  /** Id of the page in the model's KV pool. */
  page: number;
  /** References to the page (1 when this session holds it alone). */
  refs: number;
}

/** The model's KV pool: budget, bytes in use and reserved, pages, bytes by dtype, prompt caches, waste. */
export interface KvStats {
  /** The pool's byte budget (LoadOptions.kv.budgetBytes). */
  budgetBytes: number;
  /** Bytes allocated now: every live KV page plus the prompts' cross-attention caches. */
  usedBytes: number;
  /** Bytes the sessions' quotas reserve beyond what each holds alone (the sum of their unused quotas). */
  reservedBytes: number;
  /** Budget left after used and reserved bytes (0 when none). */
  availableBytes: number;
  /** Live sessions holding a quota in the pool. */
  sessions: number;
  /** Page counts and the size of a page. */
  pages: {
    /** Live pages. */
    used: number;
    /** Live pages held by more than one reference. */
    shared: number;
    /** Pages of `pageBytes` that fit in `availableBytes`. */
    free: number;
    /** `used + free`. */
    total: number;
    /** Freed page allocations kept for reuse. */
    cached: number;
    /** References to live pages, summed over the pages. */
    refs: number;
    /** Bytes of one page at the model's default latent size and KV dtype. */
    pageBytes: number;
  };
  /** Bytes of live pages by storage type. */
  bytesByDtype: {
    /** Bytes of f32 pages. */
    f32: number;
    /** Bytes of bf16 pages. */
    bf16: number;
    /** Bytes of int8 pages (scales included). */
    int8: number;
  };
  /** Prompt cross-attention caches in the pool (sessions with the same prompt share one). */
  crossCaches: number;
  /** Bytes of those caches. */
  crossBytes: number;
  /** Bytes of live pages that hold K/V data (and int8 scales). */
  payloadBytes: number;
  /** Bytes of live pages lost to 64-byte alignment padding. */
  wasteBytes: number;
  /** `wasteBytes` as a percentage of `payloadBytes + wasteBytes` (0 with no pages). */
  wastePercent: number;
}

/** Storage type of the linear layers' weights: f32, bf16 (round to nearest even) or int8 (Q8_0-like: one f32 scale per output column per 32 inputs). */
export type WeightType = 'f32' | 'bf16' | 'int8';

/** Where the weights came from, the SIMD level in use, thread count and weight bytes. */
export interface ModelInfo {
  /** The model directory, as passed to {@link loadModel}. */
  dir: string;
  /** SIMD level the weights were packed for and the kernels run: 'scalar', 'avx2' or 'avx512'. */
  isa: string;
  /** Storage of the linears' weights (LoadOptions.weights). */
  weights: WeightType;
  /** The GEMM kernel family they run: 'f32', 'bf16_amx' / 'int8_amx' (AMX tiles; activations converted to bf16, int8 weights widened to bf16), 'bf16_dot' / 'int8_dot' (AVX512_BF16 / AVX512_VNNI, activations converted too) or 'bf16_widen' / 'int8_widen' (weights widened to f32). */
  gemmPath: string;
  /** The CPU's detected features, space-separated (e.g. 'sse4.2 avx avx2 fma f16c avx512f …'). */
  cpuFeatures: string;
  /** Compute threads of the model's engine. */
  threads: number;
  /** Bytes of the loaded weights in memory (packed linears plus f32 vectors). */
  weightBytes: number;
  /**
   * Bytes of the engine's forward workspace (activations), as of its last forward. One
   * workspace per engine thread, shared by all of the model's sessions: it is bounded by
   * the largest batch the engine runs and does not grow with the number of sessions.
   */
  workspaceBytes: number;
  /** Bytes of the attention kernels' scratch: a fixed block per compute thread. */
  attentionScratchBytes: number;
}

/**
 * The decoder's config.json (upstream TAEHV constructor arguments plus the channel widths
 * upstream hard-codes) and the values derived from it.
 */
export interface DecoderConfig {
  /** Always 'taehv'. */
  type: 'taehv';
  /** Channels of a latent frame (16 for taew2_1). */
  latent_channels: number;
  /** Channels of an output frame (3: RGB). */
  image_channels: number;
  /** Pixel-shuffle factor of the last conv (1; 2 for taehv1_5 / taew2_2). */
  patch_size: number;
  /** Widths of the three stages and of the last conv's input. */
  n_f: [number, number, number, number];
  /** Per stage: whether it doubles the frames (a config's 2 entries [a, b] read as [false, a, b]). */
  decoder_time_upscale: [boolean, boolean, boolean];
  /** Per stage: whether it upscales H and W by 2 (nearest). */
  decoder_space_upscale: [boolean, boolean, boolean];
  /** Whether a stream drops its first `t_upscale - 1` frames (upstream's frames_to_trim). */
  trim_first_frames: boolean;
  /** Frames out per latent frame: 2 to the number of time-upscaling stages. */
  t_upscale: number;
  /** Frames a stream drops at its start: `t_upscale - 1` with `trim_first_frames`, else 0. */
  frames_to_trim: number;
  /** Output pixels per latent pixel along H and W: 2 per space-upscaling stage, times `patch_size`. */
  space_scale: number;
  /**
   * Present when the decoder takes a geometry map per frame (config key `geometry`): see
   * {@link DecoderGeometry}. Absent for a plain TAEHV decoder.
   */
  geometry?: DecoderGeometry;
}

/**
 * The geometry map a geometry-conditioned decoder takes with each frame (worldcast's
 * extension of TAEHV): `channels` float planes at the frame size over `scale` (a frame of
 * H × W pixels takes a map of channels × H/scale × W/scale, CHW), as the world's geometry
 * renderer draws it with `samples` × `samples` rays a map pixel and nearness
 * exp(−distance / `near`). Each of the decoder's five plain convolutions (decoder.1, .8, .14,
 * .20, .22) reads the map as `channels` more input channels after its own, average-pooled or
 * repeated by an integer factor to its input size. `samples` and `near` do not change the
 * decoding; they say how the map must be drawn.
 */
export interface DecoderGeometry {
  /** Channels of the map (G). */
  channels: number;
  /** Frame pixels per map pixel along H and W. */
  scale: number;
  /** Rays per map pixel along each axis when the world draws the map. */
  samples: number;
  /** Distance scale of the map's nearness channel: exp(−d / near). */
  near: number;
}

/** What a stream holds: counts, bytes of MemBlock state, the decoder's workspace bytes. */
export interface DecoderStreamStats {
  /** Latent frames the stream has taken in since it started or was last reset. */
  latentFrames: number;
  /** Frames the stream has returned since it started or was last reset. */
  framesOut: number;
  /** Bytes of the stream's temporal state (each MemBlock's input at the previous frame). */
  stateBytes: number;
  /** Bytes of the decoder's scratch workspace, shared by all its streams (it grows to the largest decode so far). */
  workspaceBytes: number;
  /** Latent height the stream decodes (0 before its first decode and after a reset). */
  latentHeight: number;
  /** Latent width the stream decodes (0 before its first decode and after a reset). */
  latentWidth: number;
}

/**
 * Model and Session: the SDK's engine API.
 *
 * ```ts
 * const model = await loadModel('models/tiny', { threads: 2 });
 * const s = model.createSession({ seed: 1 });
 * await s.setPrompt(embedding);            // Float32Array [rows × text_dim]
 * const block = await s.step({ actions }); // Float32Array [frames × actionSize]
 * ```
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { actionSize, checkFrameGeometry, encodeActions, encodeFrameGeometry, encodeGeometry, frameGeometrySize, type ActionInput, type ActionSpace, type GeometrySpec, type LatentSize } from './actions.js';
import { ArgumentError, ClosedError, ConfigError, WeightsError, WorldcastError, fromNative, wrapAsync, wrapSync } from './errors.js';
import { checkDecoderPrecision, decoderMapSize, loadDecoder, loadDecoderOn, type Decoder, type DecoderPrecision, type DecoderStream } from './decoder.js';
import { profiler } from './profiler.js';
import { TablePromptEncoder, type Prompt, type PromptEncoder } from './prompts.js';
import { readSafetensors } from './safetensors.js';
import type { KvDType, KvSelection } from './kvtypes.js';
import { native, nativeModels, type NativeBlock, type NativeModel, type NativeSession } from './native.js';
import type { KvPage, KvStats, ModelInfo, SessionLayout, SessionStats, StageTimes, WeightType } from './types.js';

/** Options of {@link loadModel}. */
export interface LoadOptions {
  /** Compute threads of this model's engine (default: the number of cores). */
  threads?: number;
  /** The KV pool: byte budget (default: half the RAM, at most 8 GiB) and the default page dtype (default 'bf16': half of f32, PSNR > 100 dB against f32 KV in `npm run bench -- kv`). */
  kv?: {
    /** Byte budget of the pool (default: half the RAM, at most 8 GiB). */
    budgetBytes?: number;
    /** Storage type of a session's KV pages unless {@link SessionOptions.kvDtype} says otherwise (default 'bf16'). */
    dtype?: KvDType;
  };
  /** Storage of the linear layers' weights, repacked once at load (default 'f32'; norms, modulation and biases stay f32). 'bf16' halves and 'int8' quarters weight memory; on CPUs with AVX512_BF16 / AVX512_VNNI the activations are converted too and the GEMMs run on those instructions, and on CPUs with AMX (where the OS grants it) both run on AMX tiles with bf16 activations ({@link gemmPaths} says which). */
  weights?: WeightType;
  /**
   * Latent frames per block instead of config.json's `num_frame_per_block` (t2v models with
   * the block loop). Smaller blocks are submitted more often, so an input waits less for the
   * block that takes it — `npm run load` on the default world (trained on blocks of 3):
   * 1-frame blocks cut input-to-frame latency from p50 ~185 ms to ~85 ms for one player —
   * at a cost in quality and more engine time per frame that the README's game-server
   * section measures. The window, sink and the openings' frame counts are checked against
   * it; a model with the matrix_game action module, image input or a staggered schedule
   * refuses it.
   */
  blockFrames?: number;
  /**
   * The sampler's timesteps instead of config.json's `denoising_step_list` (strictly
   * decreasing, in (0, 1000]; integers when the model warps its steps). One forward per
   * step, plus the commit. The default world samples [1000, 500]; its 4-step list
   * [1000, 750, 500, 250] measures within 0.5 dB at 1 / 5 / 30 s for 5 forwards a block
   * instead of 3 (README, "Two denoising steps"). `Session.layout.timesteps` tells the result.
   */
  denoisingSteps?: number[];
  /** Resolves string prompts (default: the model directory's prompts.safetensors, if any). */
  promptEncoder?: PromptEncoder;
  /**
   * The video decoder that turns each block's latents into RGB frames: a loaded
   * {@link Decoder} (shared, not closed with the model), a decoder directory, or null for
   * none. Default (undefined): {@link modelDecoderDir} — the directory the model's
   * config.json names, else `<model>/decoder` when it exists, else none. A decoder the
   * model loads itself is closed with it. Steps decode through it unless `decode: false`.
   */
  decoder?: Decoder | string | null;
  /**
   * A decoder the model loads itself runs on the model's own engine thread and compute
   * threads by default: its decodes and the model's steps take turns in submission order
   * instead of two thread pools contending for the same cores. `decoderThreads` gives it
   * an engine thread and that many compute threads of its own instead (for machines with
   * cores to spare, where decoding block n while block n+1 steps pays).
   */
  decoderThreads?: number;
  /**
   * Precision of a decoder the model loads itself ({@link DecoderOptions.precision}):
   * 'f32' (default) or 'bf16' (on CPUs with AVX512_BF16 only; ~2× faster convolutions,
   * frames within about 1/255 of f32's — see the README's decoder figures).
   */
  decoderPrecision?: DecoderPrecision;
}

/**
 * The decoder directory a model directory names: config.json's `decoder` as a directory
 * (`"decoder": "dir"`, or `{"path": "dir"}` / `{"dir": "dir"}`; relative to the model
 * directory) when it holds a config.json, else `<model>/decoder` when that does, else
 * null. The one rule every entry point (loadModel, the game server, the CLIs) uses.
 */
export function modelDecoderDir(modelDir: string, config: { decoder?: unknown }): string | null {
  const d = config.decoder;
  let rel: string | undefined;
  if (typeof d === 'string') rel = d;
  else if (typeof d === 'object' && d !== null) {
    const o = d as { dir?: unknown; path?: unknown };
    if (typeof o.path === 'string') rel = o.path;
    else if (typeof o.dir === 'string') rel = o.dir;
  }
  if (rel !== undefined) {
    const p = resolve(modelDir, rel);
    if (existsSync(join(p, 'config.json'))) return p;
    throw new ConfigError(`${join(modelDir, 'config.json')}: "decoder" names ${p}, which holds no decoder config.json`, 'CONFIG');
  }
  const sub = join(modelDir, 'decoder');
  return existsSync(join(sub, 'config.json')) ? sub : null;
}

/** One decoded RGB frame. */
export interface Frame {
  /** height × width × 3 bytes, RGB, row-major (an external Buffer: no copy from the engine). */
  rgb: Buffer;
  /** Frame width in pixels. */
  width: number;
  /** Frame height in pixels. */
  height: number;
  /** Index of the frame in the session's video (0-based, counting every frame delivered). */
  index: number;
}

/** The parts of config.json the SDK exposes (upstream names). */
export interface ModelConfig {
  /** Model type: 't2v' (text context) or 'i2v' (Matrix-Game 2.0: CLIP-token context and an image-latent input). */
  model_type: string;
  /** Patch size of the patch embedding as [t, h, w] (t is 1). */
  patch_size: [number, number, number];
  /** Most rows a prompt embedding may have. */
  text_len: number;
  /** Channels of the DiT input (i2v: latents + mask + image latent). */
  in_dim: number;
  /** Channels of a latent block (what step returns and noise/commit/probe take). */
  latent_channels: number;
  /** i2v: the image-latent input ({@link Session.setImageLatent}), else null. */
  image_latent: ImageLatentConfig | null;
  /** Hidden size of the transformer. */
  dim: number;
  /** Hidden size of the feed-forward layers. */
  ffn_dim: number;
  /** Size of the sinusoidal timestep embedding. */
  freq_dim: number;
  /** Width of one prompt embedding row. */
  text_dim: number;
  /** Latent channels out. */
  out_dim: number;
  /** Attention heads (head size = dim / num_heads). */
  num_heads: number;
  /** Transformer layers. */
  num_layers: number;
  /** Latent frames per block. */
  num_frame_per_block: number;
  /** Default attention window in latent frames (-1 = global). */
  local_attn_size: number;
  /** Default sink frames kept at the start of the window. */
  sink_size: number;
  /** Timesteps of the denoising steps, in order, each in [0, 1000] (before the warp). */
  denoising_step_list: number[];
  /** Map `denoising_step_list` through the shifted schedule (Self Forcing's warp_denoising_step). */
  warp_denoising_step: boolean;
  /** Shift of the flow-matching schedule. */
  timestep_shift: number;
  /** Timesteps of the training schedule (N of the flow-matching schedule). */
  num_train_timesteps: number;
  /** Timestep at which the commit pass runs a block's clean latents. */
  context_noise: number;
  /**
   * The schedule policy: the block loop (`{type: 'block'}`, every step of one block per
   * call) or MAGI-1-style staggered blocks (`{type: 'staggered', window}`: `window` blocks
   * in flight at staggered noise levels, one batched forward advancing them all).
   */
  schedule: ScheduleConfig;
  /** Latent frames per second of world time (worldcast key; 0 when config.json does not say). A game server paces blocks by it. */
  latent_fps: number;
  /** Default latent frame height of a session. */
  latent_height: number;
  /** Default latent frame width of a session. */
  latent_width: number;
  /** The action space, or null when the model takes no actions. */
  action: ActionSpace | null;
  /** config.json's `decoder` entry as written (e.g. a directory or `{"path": dir}`), or null when absent. */
  decoder: unknown;
}

/** An i2v model's extra input channels (config.json `image_latent`). */
export interface ImageLatentConfig {
  /** Channels of the image latent (the VAE-encoded first frame). */
  channels: number;
  /** Channels of the mask (1 on latent frame 0) before it. */
  mask_channels: number;
}

/** The block loop: each step denoises one block through all its steps, then commits it. */
export interface BlockSchedule {
  /** `'block'`. */
  type: 'block';
}

/** MAGI-1-style staggered blocks: `window` blocks in flight at staggered noise levels. */
export interface StaggeredSchedule {
  /** `'staggered'`. */
  type: 'staggered';
  /** Blocks in flight; it divides the number of denoising steps. */
  window: number;
}

/** config.json's `schedule`: which policy the block loop follows. */
export type ScheduleConfig = BlockSchedule | StaggeredSchedule;

/** What setPrompt takes ({@link ModelInputs.context}). */
export interface ContextInput {
  /** `'text'` (a T5-style embedding) or `'clip'` (an i2v model's CLIP image tokens). */
  kind: 'text' | 'clip';
  /** Most rows (text) or exactly this many rows (clip). */
  rows: number;
  /** Width of a row. */
  dim: number;
  /** Whether a step without it is refused. */
  required: boolean;
}

/** The image latent an i2v model takes ({@link ModelInputs.imageLatent}). */
export interface ImageLatentInput {
  /** Channels of the image latent. */
  channels: number;
  /** Whether a step without it is refused (always, for i2v models). */
  required: boolean;
}

/** The actions a model takes ({@link ModelInputs.actions}). */
export interface ActionsInput {
  /** How they condition the model: `'additive'` or `'matrix_game'`. */
  mode: string;
  /**
   * Floats of one frame's action row at config.json's latent size: keys, then mouse axes,
   * then the pose features if the model takes the pose, then the geometry map if it takes one.
   */
  size: number;
  /** The level-geometry map each row ends with (null: none). */
  geometry: GeometrySpec | null;
  /** A block takes one row per video frame (Matrix-Game 2.0), or one row for all of them. */
  perVideoFrame: boolean;
  /** Video frames per latent frame (the VAE's temporal compression; 1 otherwise). */
  videoFramesPerLatent: number;
}

/** The conditioning a model takes ({@link Model.inputs}). */
export interface ModelInputs {
  /** setPrompt's input: a text embedding [≤ rows × dim], or (i2v) exactly rows CLIP tokens of dim (required). */
  context: ContextInput;
  /** i2v: the encoded first image ({@link Session.setImageLatent}), required; null otherwise. */
  imageLatent: ImageLatentInput | null;
  /** Actions (null: none). */
  actions: ActionsInput | null;
}

/** Options of {@link Model.createSession}. */
export interface SessionOptions {
  /** Seed of the session's noise (Philox4x32-10; see native/engine/noise.h). Default 0. */
  seed?: number | bigint;
  /** Attention window in latent frames (-1 = global); default from config.json. */
  localAttnSize?: number;
  /** Sink frames kept at the start of the window; default from config.json. */
  sinkSize?: number;
  /** Latent frame height; default from config.json. */
  latentHeight?: number;
  /** Latent frame width; default from config.json. */
  latentWidth?: number;
  /** Storage type of this session's KV pages (default: the model's kv.dtype). */
  kvDtype?: KvDType;
  /**
   * Fold each block's commit pass into the next block's first denoising forward (one
   * batched forward, MAGI-1 style): one forward fewer per block, same outputs within
   * fp32 rounding (exactly the same K/V with f32 pages). Default false.
   */
  foldCommit?: boolean;
  /**
   * The smallest block this session may step ({@link StepOptions.frames}), 1 to the model's
   * block (config.json `num_frame_per_block`, or `loadModel`'s `blockFrames`). Default: the
   * model's block only. A block of F frames attends to the window's `local_attn_size −
   * sink − F` frames before it (upstream's rolling cache of `local_attn_size` frames), so a
   * session stepping blocks of 1 is exactly a model loaded with `blockFrames: 1`; the KV
   * pages keep what the smallest block could reach (its reservation grows by the difference).
   * A game server uses it to trade engine time for input latency block by block. t2v models
   * with the block loop ({@link Model.minBlockFrames}: not image input, matrix_game or a
   * staggered schedule).
   */
  minBlockFrames?: number;
  /** Initial prompt: text (resolved by the model's prompt encoder) or an embedding [rows × text_dim] (i2v: the CLIP image tokens). */
  prompt?: Prompt;
  /** i2v models: the encoded first image [image channels × N × H × W] (see {@link Session.setImageLatent}). */
  imageLatent?: Float32Array;
  /**
   * Known clean latents the session starts from, committed (commit pass only) before its
   * first block: the name of one of {@link Model.openings} (e.g. `'day/0'`: the default
   * world seen from spawn point 0 by day) or latents (C, F, H, W) with F a multiple of the
   * block size. The first generated block continues from them.
   */
  opening?: string | Float32Array;
  /**
   * The actions the opening's frames were seen with: one input for all of them, or one
   * per opening frame (default: the all-zero vector). A model that takes the pose wants
   * the spawn pose here (`{pose}`), as the game server and the eval give it. An input's
   * `frameGeometry` (a geometry decoder's map) is allowed and unused: the opening is
   * committed, not decoded.
   */
  openingActions?: ActionInput | readonly ActionInput[];
}


/** One denoised block of latent frames. */
export interface LatentBlock {
  /** Clean latents x0 in (C, F, H, W) order. */
  latents: Float32Array;
  /** Absolute index of the block's first latent frame. */
  frameStart: number;
  /** Latent frames in the block (F). */
  frames: number;
  /** Latent channels (C). */
  channels: number;
  /** Latent frame height (H). */
  height: number;
  /** Latent frame width (W). */
  width: number;
  /**
   * Model forwards run (denoising steps + the commit pass, which foldCommit merges into the
   * next block; steps / window for a staggered schedule). With a staggered schedule the
   * first window − 1 steps return `frames` 0 (no latents, no images): the pipeline fills.
   */
  forwards: number;
  /** Wall-clock seconds of the block on the engine thread. */
  seconds: number;
  /** Per-stage seconds. */
  times: StageTimes;
  /** Milliseconds from the step() call to the block in hand (queueing and decoding included). */
  latencyMs: number;
  /** The block's decoded RGB frames, when the model has a decoder (in order; `frames` counts latent frames). */
  images: Frame[];
  /** Milliseconds spent decoding the block on the decoder's thread (0 without a decoder). */
  decodeMs: number;
  /** Milliseconds from the step() call to its first decoded frame (0 without frames). */
  firstFrameMs: number;
}

/** Where a stream takes each block's actions from. */
export type ActionSource =
  | AsyncIterable<ActionInput | Float32Array | undefined>
  | Iterable<ActionInput | Float32Array | undefined>
  | (() => ActionInput | Float32Array | undefined | Promise<ActionInput | Float32Array | undefined>);

/** Options of {@link Session.stream}. */
export interface StreamOptions {
  /** Stop after this many blocks. */
  blocks?: number;
  /** Stop when aborted (the block in flight completes first). */
  signal?: AbortSignal;
  /** Close the session when the stream ends, is broken out of or fails (default true). */
  closeOnEnd?: boolean;
}

/** Options of {@link Session.step}. */
export interface StepOptions {
  /**
   * The block's actions: encoded per-frame vectors [frames × actionSize], one
   * {@link ActionInput} for every frame, or one per frame; omitted = nothing pressed.
   */
  actions?: Float32Array | ActionInput | readonly ActionInput[];
  /**
   * Models that take the level's geometry: the block's maps [channels, F, H, W] (with
   * encoded action rows; action objects carry theirs per frame in `geometry`). Omitted: zero.
   */
  geometry?: Float32Array;
  /** Caller-supplied noise: one (C, F, H, W) tensor per denoising step (item 0 the start). */
  noise?: Float32Array[];
  /**
   * Latent frames of this block: from the session's `minBlockFrames` to the model's block
   * (default: the model's block). Actions, geometry and noise are of this many frames.
   */
  frames?: number;
  /** Decode the block into frames when the model has a decoder (default true). */
  decode?: boolean;
  /**
   * Models whose decoder takes a geometry map per frame (`actionSpace.frameGeometry`): the
   * block's maps as one array [frames × channels × height × width], frame-major — for
   * encoded action rows; action objects carry theirs per frame in `frameGeometry`. Every
   * decoded frame needs its map: without them a decoding step is an ArgumentError before it runs.
   */
  frameGeometry?: Float32Array;
  /** Called with each decoded frame, in order, as soon as it is decoded (latent frame by latent frame). */
  onFrame?: (frame: Frame) => void;
}

/**
 * The action space of a model or session with `frameGeometry` set from its decoder (when the
 * decoder takes a geometry map) at latent size `latent`; `space` as it is otherwise.
 */
function withFrameGeometry(space: ActionSpace | null, decoder: Decoder | null, latent: LatentSize): ActionSpace | null {
  const g = decoder?.config.geometry;
  if (!space) return null;
  const { frameGeometry: _old, ...rest } = space;
  if (!g) return rest;
  const m = decoderMapSize(decoder!.config, latent.height, latent.width)!;
  return { ...rest, frameGeometry: { channels: g.channels, width: m.width, height: m.height, samples: g.samples, near: g.near } };
}

const nativeOf = new WeakMap<Session, NativeSession>();

/** The native sessions behind `sessions`; `what` names the call refusing anything else. */
function nativesOf(sessions: readonly Session[], what: string): NativeSession[] {
  return sessions.map((s) => {
    const n = nativeOf.get(s);
    if (!n) throw new ArgumentError(`${what}: not a worldcast Session`, 'ARGUMENT');
    return n;
  });
}

/** The ArgumentError of a decode without each frame's decoder geometry map. */
function missingMaps(space: ActionSpace | null, frames: number, what = 'step'): ArgumentError {
  const g = space?.frameGeometry;
  const size = g ? `${g.channels}x${g.height}x${g.width}` : 'channels x height x width';
  return new ArgumentError(
    `${what}: this model's decoder takes a geometry map per frame: give each of the ${frames} frames its ActionInput.frameGeometry (${size}), or frameGeometry for the block, or decode: false`,
    'ARGUMENT',
  );
}

function toBlock(b: NativeBlock, t0: number): LatentBlock {
  return {
    images: [],
    decodeMs: 0,
    firstFrameMs: 0,
    latencyMs: performance.now() - t0,
    latents: b.x0,
    frameStart: b.frameStart,
    frames: b.frames,
    channels: b.channels,
    height: b.height,
    width: b.width,
    forwards: b.forwards,
    seconds: b.seconds,
    times: b.times,
  };
}

/** One session's block in {@link Model.stepMany}. */
export interface BatchItem extends StepOptions {
  /** The session to step. */
  session: Session;
}

/** A world-model session: its KV memory, prompt, frame position and noise. */
export class Session {
  readonly #s: NativeSession;
  readonly #encoder: PromptEncoder | null;
  readonly #decoder: Decoder | null;
  #stream: DecoderStream | null = null;
  #framesOut = 0;
  /** The work `createSession` started (prompt, image latent, opening commits) while it runs. */
  #starting: Promise<void> | null = null;
  /** Why that work failed: every later call but close() rejects with it. */
  #startFailure: WorldcastError | null = null;
  /** @internal */
  constructor(s: NativeSession, actionSpace: ActionSpace | null, encoder: PromptEncoder | null, decoder: Decoder | null) {
    this.#s = s;
    this.actionSpace = withFrameGeometry(actionSpace, decoder, s.layout);
    this.#encoder = encoder;
    this.#decoder = decoder;
    nativeOf.set(this, s);
  }
  /**
   * @internal The session's start (`createSession`'s prompt, image latent and opening
   * commits, queued on the engine thread in that order). If any part fails, the session
   * is unusable: its next call, and every one after it but {@link close}, rejects with
   * an error of the same type naming what failed, the engine's error as its cause.
   */
  startWith(parts: { what: string; run: () => Promise<unknown> }[]): void {
    if (parts.length === 0) return;
    // Each part is queued now (the engine runs them in order before any later call); the
    // first failure is kept, never dropped.
    const settled = parts.map(({ what, run }) =>
      run().then(
        () => null,
        (e: unknown) => ({ what, e }),
      ),
    );
    this.#starting = Promise.all(settled).then((results) => {
      this.#starting = null;
      const bad = results.find((r) => r !== null);
      if (bad) this.#startFailure = startError(bad.what, bad.e);
    });
  }
  /** @internal Resolves when the session's start has succeeded; rejects with its failure. */
  async ready(): Promise<void> {
    if (this.#starting) await this.#starting;
    if (this.#startFailure) throw this.#startFailure;
  }
  /**
   * @internal The wait a call must make before it goes to the engine: none once the start
   * has succeeded (so a call is queued at once, in the order it was made), else {@link ready}.
   */
  pendingStart(): Promise<void> | undefined {
    return this.#starting || this.#startFailure ? this.ready() : undefined;
  }
  /** The failure, if already known, for synchronous calls. */
  #checkStarted(): void {
    if (this.#startFailure) throw this.#startFailure;
  }
  /** @internal Decode a block into its frames (the session's own decoder stream keeps the temporal state). */
  async attachFrames(block: LatentBlock, opts: StepOptions, t0: number, maps?: Float32Array): Promise<LatentBlock> {
    if (!this.#decoder || opts.decode === false) return block;
    block.images = [];
    const { latents, frames, channels, height, width } = block;
    block.decodeMs = await this.#decode(latents, frames, channels, height, width, (frame) => {
      if (block.images.length === 0) block.firstFrameMs = performance.now() - t0;
      block.images.push(frame);
      opts.onFrame?.(frame);
    }, maps);
    return block;
  }
  /**
   * @internal The decoder geometry maps of a step ([F × channels × h × w], from its action
   * objects' `frameGeometry` or `opts.frameGeometry`), checked now, before the step runs:
   * an ArgumentError when the step would decode with a geometry decoder and a frame has no
   * map. Undefined when the step decodes none.
   */
  frameMaps(opts: StepOptions): Float32Array | undefined {
    const space = this.actionSpace;
    const F = this.#blockFrames(opts.frames);
    const { actions } = opts;
    const fromActions =
      space && actions !== undefined && !(actions instanceof Float32Array) && space.mode !== 'matrix_game' ? encodeFrameGeometry(actions, space, F) : undefined;
    if (opts.frameGeometry !== undefined && fromActions) throw new ArgumentError('frameGeometry given twice: in the actions and as step({frameGeometry})', 'ARGUMENT');
    const maps = fromActions ?? (opts.frameGeometry !== undefined ? checkFrameGeometry(opts.frameGeometry, space, F) : undefined);
    if (!this.#decoder || opts.decode === false) return undefined;
    if (this.#decoder.config.geometry && !maps) throw missingMaps(space, F);
    return maps;
  }
  /** Decode latents (C, F, H, W) through the session's stream (with a geometry decoder, each frame's map of `maps`); returns the decode milliseconds. */
  async #decode(latents: Float32Array, F: number, C: number, H: number, W: number, onFrame: (f: Frame) => void, maps?: Float32Array): Promise<number> {
    const stream = (this.#stream ??= this.#decoder!.createStream());
    // Decode latent frame by latent frame (the stream's temporal state makes that equal to
    // decoding the block at once): all are queued on the decoder's thread now, and each
    // latent's frames (4 for taew2_1) are handed over as soon as that decode settles.
    const plane = H * W;
    const mapSize = maps ? maps.length / F : 0;
    const decodes = Array.from({ length: F }, (_, f) => {
      const one = new Float32Array(C * plane);
      for (let c = 0; c < C; c++) one.set(latents.subarray((c * F + f) * plane, (c * F + f + 1) * plane), c * plane);
      const opts = maps ? { geometry: maps.subarray(f * mapSize, (f + 1) * mapSize) } : undefined;
      return profiler.span('decode', () => stream.decode(one, 1, H, W, opts));
    });
    let ms = 0;
    for (const p of decodes) {
      const d = await p;
      ms += d.seconds * 1e3;
      for (const rgb of d.frames) onFrame({ rgb, width: d.width, height: d.height, index: this.#framesOut++ });
    }
    return ms;
  }
  /** @internal */
  adoptStream(stream: DecoderStream, framesOut: number): void {
    this.#stream = stream;
    this.#framesOut = framesOut;
  }
  /** @internal The actions of a step, encoded: the action rows and, for geometry models, the block's maps. */
  encode(actions: StepOptions['actions'], geometry?: Float32Array, frames?: number): { actions?: Float32Array; geometry?: Float32Array } {
    if (geometry !== undefined && !(geometry instanceof Float32Array)) throw new ArgumentError('geometry must be a Float32Array [channels, F, H, W]', 'ARGUMENT');
    if (actions instanceof Float32Array || actions === undefined) return { actions, geometry };
    if (!this.actionSpace) throw new ArgumentError('this model has no action input', 'ARGUMENT');
    if (this.actionSpace.mode === 'matrix_game')  // per video frame: one row for all, or one per video frame (the engine checks the count)
      return { actions: encodeActions(actions, this.actionSpace, Array.isArray(actions) ? Math.max(1, actions.length) : 1), geometry };
    const F = this.#blockFrames(frames);
    const maps = encodeGeometry(actions, this.actionSpace, F, this.layout);
    if (maps && geometry) throw new ArgumentError('geometry given twice: in the actions and as step({geometry})', 'ARGUMENT');
    return { actions: encodeActions(actions, this.actionSpace, F), geometry: maps ?? geometry };
  }
  /** A step's `frames` (undefined: the model's block), checked against the session's range. */
  #blockFrames(frames: number | undefined): number {
    const { frames: max, minFrames } = this.layout;
    if (frames === undefined) return max;
    if (!Number.isInteger(frames) || frames < minFrames || frames > max)
      throw new ArgumentError(`frames must be an integer in ${minFrames}..${max}` + (minFrames === max && max > 1 ? " (createSession's minBlockFrames allows smaller blocks)" : ''), 'ARGUMENT');
    return frames;
  }
  /** Frames per block, latent channels/size, action vector size and the sampler's timesteps. */
  get layout(): SessionLayout {
    return this.#s.layout;
  }
  /** Whether {@link close} has been called on this session. */
  get closed(): boolean {
    return this.#s.closed;
  }
  /** The model's action space (null when it takes no actions). */
  readonly actionSpace: ActionSpace | null;
  /** Denoise and commit the next block. */
  async step(opts: StepOptions = {}): Promise<LatentBlock> {
    const { actions, noise } = opts;
    const wait = this.pendingStart();
    if (wait) await wait; // no await otherwise: the call is queued now, in order
    const t0 = performance.now();
    const e0 = profiler.active ? profiler.now() : 0;
    const encoded = this.encode(actions, opts.geometry, opts.frames);
    const maps = this.frameMaps(opts);
    if (profiler.active) profiler.mark('encode_actions', e0, profiler.now());
    const b = await profiler.span('sdk_step', () => wrapAsync(() => this.#s.step({ ...encoded, noise, frames: opts.frames })));
    const block = await this.attachFrames(toBlock(b, t0), opts, t0, maps);
    block.latencyMs = performance.now() - t0;
    return block;
  }
  /**
   * Blocks as an async iterator: each block's actions are read from `source` when the
   * block is submitted, so input given while a block runs applies to the next one.
   * Breaking out of the loop (or aborting) ends the stream and, by default, closes the
   * session, which frees its KV pages.
   */
  async *stream(source: ActionSource, opts: StreamOptions = {}): AsyncGenerator<LatentBlock, void, undefined> {
    const { blocks = Infinity, signal, closeOnEnd = true } = opts;
    const it =
      typeof source === 'function'
        ? undefined
        : Symbol.asyncIterator in source
          ? (source as AsyncIterable<ActionInput | Float32Array | undefined>)[Symbol.asyncIterator]()
          : (source as Iterable<ActionInput | Float32Array | undefined>)[Symbol.iterator]();
    try {
      for (let n = 0; n < blocks && !signal?.aborted; n++) {
        let actions: ActionInput | Float32Array | undefined;
        if (typeof source === 'function') {
          actions = await source();
        } else {
          const r = await it!.next();
          if (r.done) break;
          actions = r.value;
        }
        yield await this.step({ actions });
      }
    } finally {
      if (closeOnEnd) await this.close();
    }
  }
  /**
   * Replace the prompt (text or an embedding [rows × text_dim]). It applies from the
   * next block submitted; the previous prompt's cross-attention cache is dropped.
   */
  async setPrompt(prompt: Prompt): Promise<void> {
    let embedding: Float32Array;
    if (typeof prompt === 'string') {
      if (!this.#encoder) throw new ArgumentError('this model has no prompt encoder; pass an embedding or loadModel(dir, {promptEncoder})', 'ARGUMENT');
      embedding = await this.#encoder.encode(prompt);
    } else {
      embedding = prompt;
    }
    const wait = this.pendingStart();
    if (wait) await wait; // no await otherwise: the call is queued now, in order
    return wrapAsync(() => this.#s.setPrompt(embedding));
  }
  /**
   * i2v models (Matrix-Game 2.0): the VAE-encoded first image, [image channels × N × H × W];
   * latent frame f uses frame min(f, N − 1) (upstream encodes the image followed by black
   * frames: pass those latents too, or at least [image, filler]). Required before the first
   * block; applies from the next block.
   */
  async setImageLatent(latent: Float32Array): Promise<void> {
    const wait = this.pendingStart();
    if (wait) await wait; // no await otherwise: the call is queued now, in order
    return wrapAsync(() => this.#s.setImageLatent(latent));
  }
  /** Change the attention window; applies from the next block. */
  async setWindow(localAttnSize: number, sinkSize: number): Promise<void> {
    const wait = this.pendingStart();
    if (wait) await wait; // no await otherwise: the call is queued now, in order
    return wrapAsync(() => this.#s.setWindow(localAttnSize, sinkSize));
  }
  /** A side-effect-free forward at the next block's position: the flow prediction v for x at timesteps t (one per frame), with encoded action rows and geometry maps. */
  async probe(x: Float32Array, t: Float32Array, actions?: Float32Array, geometry?: Float32Array): Promise<Float32Array> {
    const wait = this.pendingStart();
    if (wait) await wait; // no await otherwise: the call is queued now, in order
    return wrapAsync(() => this.#s.probe(x, t, actions, geometry));
  }
  /**
   * Append known clean latents (C, F, H, W) as the next block (commit pass only), with its
   * encoded action rows and, for geometry models, `geometry` maps [channels, F, H, W]. With
   * `decode: true` (and a decoder) they also go through the session's decoder stream, so
   * the video continues from them without a seam, and their frames are returned; a model
   * whose decoder takes a geometry map per frame then needs `frameGeometry`, the frames'
   * maps [F × channels × height × width] (`actionSpace.frameGeometry`), checked before the
   * commit runs.
   */
  async commit(x0: Float32Array, actions?: Float32Array, opts: { decode?: boolean; geometry?: Float32Array; frameGeometry?: Float32Array } = {}): Promise<Frame[]> {
    const wait = this.pendingStart();
    if (wait) await wait; // no await otherwise: the call is queued now, in order
    const { channels: C, height: H, width: W } = this.layout;
    const decode = !!opts.decode && !!this.#decoder;
    let maps: Float32Array | undefined;
    if (opts.frameGeometry !== undefined || (decode && this.#decoder!.config.geometry)) {
      const F = x0 instanceof Float32Array ? x0.length / (C * H * W) : NaN;
      if (!Number.isInteger(F) || F < 1) throw new ArgumentError(`commit: x0 must be a Float32Array of (C=${C}, F, H=${H}, W=${W}) latents`, 'ARGUMENT');
      if (opts.frameGeometry === undefined) throw missingMaps(this.actionSpace, F, 'commit({decode: true})');
      maps = checkFrameGeometry(opts.frameGeometry, this.actionSpace, F, 'commit: frameGeometry');
    }
    await wrapAsync(() => this.#s.commit(x0, actions, opts.geometry));
    const frames: Frame[] = [];
    if (!decode) return frames;
    await this.#decode(x0, x0.length / (C * H * W), C, H, W, (f) => frames.push(f), maps);
    return frames;
  }
  /**
   * A new session sharing every committed page and the prompt cache (nothing is copied:
   * pages are immutable). It continues from the same frame; give it its own seed to diverge.
   * Runs after this session's pending work; refused with KvBudgetError if its quota does not fit.
   */
  async fork(opts: { seed?: number | bigint } = {}): Promise<Session> {
    const wait = this.pendingStart();
    if (wait) await wait; // no await otherwise: the call is queued now, in order
    const child = new Session(await wrapAsync(() => this.#s.fork(opts)), this.actionSpace, this.#encoder, this.#decoder);
    // Its video continues from this session's decoder state (no restart seam at the fork).
    if (this.#stream) child.adoptStream(await this.#stream.fork(), this.#framesOut);
    return child;
  }
  /** Which committed frames blocks attend to; frames it can never reach again are freed at once. */
  async setSelection(sel: KvSelection): Promise<void> {
    const wait = this.pendingStart();
    if (wait) await wait; // no await otherwise: the call is queued now, in order
    return wrapAsync(() => this.#s.setSelection(sel));
  }
  /** The committed frames this session holds, with page ids and share counts. */
  kvPages(): KvPage[] {
    this.#checkStarted();
    return wrapSync(() => this.#s.kvPages());
  }
  /** KV frames and bytes held, cross-attention cache bytes, accumulated stage times. */
  async stats(): Promise<SessionStats> {
    const wait = this.pendingStart();
    if (wait) await wait; // no await otherwise: the call is queued now, in order
    return wrapAsync(() => this.#s.stats());
  }
  /** Finish pending work and release the session's memory (and its decoder stream). */
  async close(): Promise<void> {
    const stream = this.#stream;
    this.#stream = null;
    await Promise.all([wrapAsync(() => this.#s.close()), stream?.close()]);
  }
}

/** Loaded weights plus the engine thread that runs its sessions. */
export class Model {
  readonly #m: NativeModel;
  /** The parsed config.json. */
  readonly config: ModelConfig;
  /** Resolves string prompts; null when the model has none. */
  readonly promptEncoder: PromptEncoder | null;
  /** Decodes blocks into frames; null when the model has none. */
  readonly decoder: Decoder | null;
  /**
   * Named opening latents (C, F, H, W) shipped with the model (`openings.safetensors`):
   * for the default world, `'<prompt>/<spawn index>'` = a character standing at that spawn
   * point. Pass a name as `createSession({opening})`. Empty when the model ships none.
   */
  readonly openings: ReadonlyMap<string, Float32Array>;
  /**
   * The model's action space (config.json `action`; null when it takes no actions), with
   * `frameGeometry` when its decoder takes a geometry map per frame: the map's channels and
   * size at the model's latent size (a session of another latent size has its own in
   * `session.actionSpace`), and how the world draws it.
   */
  readonly actionSpace: ActionSpace | null;
  /** @internal */
  constructor(m: NativeModel, encoder: PromptEncoder | null, decoder: Decoder | null, openings: ReadonlyMap<string, Float32Array> = new Map()) {
    this.#m = m;
    nativeModels.set(this, m);
    this.config = m.config() as unknown as ModelConfig;
    this.promptEncoder = encoder;
    this.decoder = decoder;
    this.openings = openings;
    this.actionSpace = withFrameGeometry(this.config.action ?? null, decoder, { height: this.config.latent_height, width: this.config.latent_width });
  }
  /**
   * The conditioning this model declares (from config.json): its context (a text embedding,
   * or for i2v models the CLIP image tokens), the image latent (i2v) and the actions.
   * Required inputs missing at a step are an {@link ArgumentError} naming them.
   */
  get inputs(): ModelInputs {
    const c = this.config;
    const i2v = c.model_type === 'i2v';
    return {
      context: { kind: i2v ? 'clip' : 'text', rows: c.text_len, dim: c.text_dim, required: i2v },
      imageLatent: c.image_latent ? { channels: c.image_latent.channels, required: true } : null,
      actions: c.action
        ? {
            mode: c.action.mode,
            size: actionSize(c.action),
            geometry: c.action.geometry ?? null,
            perVideoFrame: c.action.mode === 'matrix_game',
            videoFramesPerLatent: c.action.video_frames_per_latent ?? 1,
          }
        : null,
    };
  }
  /**
   * Whether sessions of this model may take `foldCommit` (and so {@link commitPending}):
   * not yet for i2v models or Matrix-Game actions (their per-block image and action caches).
   */
  get foldsCommits(): boolean {
    const c = this.config;
    return c.model_type !== 'i2v' && !c.image_latent && c.action?.mode !== 'matrix_game';
  }
  /**
   * The smallest block a session of this model may step (createSession's `minBlockFrames`):
   * 1 for t2v models with the block loop (the models `blockFrames` applies to); the model's
   * block for image input, Matrix-Game actions and staggered schedules.
   */
  get minBlockFrames(): number {
    const c = this.config;
    const one = c.model_type !== 'i2v' && !c.image_latent && c.action?.mode !== 'matrix_game' && c.schedule?.type !== 'staggered';
    return one ? 1 : c.num_frame_per_block;
  }
  /** Where the weights came from, the SIMD level in use, thread count, weight bytes. */
  info(): ModelInfo {
    return this.#m.info();
  }
  /** Start a session. */
  createSession(opts: SessionOptions = {}): Session {
    if (this.#m.closed) throw new ClosedError('model is closed', 'CLOSED');
    const { prompt, opening, openingActions, imageLatent, ...rest } = opts;
    if (prompt !== undefined && typeof prompt !== 'string' && !(prompt instanceof Float32Array))
      throw new ArgumentError('prompt must be text or a Float32Array embedding', 'ARGUMENT');
    const embedding = typeof prompt === 'string' ? this.#encodeNow(prompt) : prompt;
    const blocks = opening === undefined ? [] : this.openingBlocks(opening, rest);
    const openingActs = this.#openingActions(openingActions, blocks.length, {
      height: rest.latentHeight ?? this.config.latent_height,
      width: rest.latentWidth ?? this.config.latent_width,
    });
    const ns = wrapSync(() => this.#m.createSession(rest));
    let s: Session;
    try {
      s = new Session(ns, this.config.action ?? null, this.promptEncoder, this.decoder);
    } catch (e) {
      void ns.close(); // e.g. a latent size the decoder's geometry scale does not divide
      throw e;
    }
    // Queued on the engine thread now, in order, before anything the caller does next; a
    // failure (a NaN opening, an opening over the KV budget) is kept and rejects the
    // session's next call (Session.ready).
    const parts: { what: string; run: () => Promise<unknown> }[] = [];
    if (embedding !== undefined) parts.push({ what: 'the prompt', run: () => wrapAsync(() => ns.setPrompt(embedding)) });
    if (imageLatent !== undefined) parts.push({ what: 'the image latent', run: () => wrapAsync(() => ns.setImageLatent(imageLatent)) });
    blocks.forEach((b, i) =>
      parts.push({ what: `opening block ${i + 1} of ${blocks.length}`, run: () => wrapAsync(() => ns.commit(b, openingActs[i]?.actions, openingActs[i]?.geometry)) }),
    );
    s.startWith(parts);
    return s;
  }
  /** Per opening block: its encoded action rows and geometry maps (undefined = all zero). */
  #openingActions(input: SessionOptions['openingActions'], blocks: number, latent: LatentSize): ({ actions: Float32Array; geometry?: Float32Array } | undefined)[] {
    if (input === undefined || blocks === 0) return new Array<undefined>(blocks).fill(undefined);
    const space = this.actionSpace; // with the decoder's frameGeometry, so an input may carry its (unused) map
    if (!space || space.mode !== 'additive') throw new ArgumentError('openingActions: this model has no additive action input', 'ARGUMENT');
    const F = this.config.num_frame_per_block;
    if (Array.isArray(input) && input.length !== blocks * F)
      throw new ArgumentError(`openingActions has ${input.length} inputs; the opening has ${blocks * F} frames (or give one input for all)`, 'ARGUMENT');
    const all = Array.isArray(input) ? (input as readonly ActionInput[]) : new Array<ActionInput>(blocks * F).fill(input as ActionInput);
    return Array.from({ length: blocks }, (_, b) => {
      const mine = all.slice(b * F, (b + 1) * F);
      return { actions: encodeActions(mine, space, F), geometry: encodeGeometry(mine, space, F, latent) };
    });
  }
  /**
   * An opening (the name of one of {@link openings}, or latents (C, F, H, W)) split into
   * blocks (C, block frames, H, W) for {@link Session.commit}, its shape checked against the
   * session geometry `o` (default: config.json's).
   */
  openingBlocks(opening: string | Float32Array, o: Pick<SessionOptions, 'latentHeight' | 'latentWidth'> = {}): Float32Array[] {
    let x: Float32Array;
    if (typeof opening === 'string') {
      const found = this.openings.get(opening);
      if (!found) throw new ArgumentError(`unknown opening "${opening}"; this model has ${this.openings.size ? [...this.openings.keys()].join(', ') : 'none'}`, 'ARGUMENT');
      x = found;
    } else if (opening instanceof Float32Array) {
      x = opening;
    } else {
      throw new ArgumentError('opening must be the name of one of model.openings or a Float32Array of latents', 'ARGUMENT');
    }
    const c = this.config;
    const C = c.latent_channels;
    const H = o.latentHeight ?? c.latent_height;
    const W = o.latentWidth ?? c.latent_width;
    const F = c.num_frame_per_block;
    const frame = H * W;
    const frames = x.length / (C * frame);
    if (!Number.isInteger(frames) || frames === 0 || frames % F !== 0)
      throw new ArgumentError(`opening has ${x.length} values: expected (C=${C}, F, H=${H}, W=${W}) latents with F a positive multiple of ${F}`, 'ARGUMENT');
    const out: Float32Array[] = [];
    for (let b = 0; b < frames; b += F) {
      const blk = new Float32Array(C * F * frame);
      for (let ch = 0; ch < C; ch++) blk.set(x.subarray((ch * frames + b) * frame, (ch * frames + b + F) * frame), ch * F * frame);
      out.push(blk);
    }
    return out;
  }
  #encodeNow(text: string): Float32Array {
    if (!this.promptEncoder) throw new ArgumentError('this model has no prompt encoder; pass an embedding or loadModel(dir, {promptEncoder})', 'ARGUMENT');
    const e = this.promptEncoder.encode(text);
    if (!(e instanceof Float32Array)) throw new ArgumentError('this prompt encoder is asynchronous: use session.setPrompt(text)', 'ARGUMENT');
    return e;
  }
  /** Whether {@link close} has been called. */
  get closed(): boolean {
    return this.#m.closed;
  }
  /**
   * One block for each session, run together: every denoising step of all of them is one
   * batched forward (their tokens stacked in the GEMMs; each keeps its own timesteps,
   * prompt, KV pages and noise). Results come back in order; a session refused (e.g. by
   * the KV budget) gets its error in its slot and the others still run.
   */
  async stepMany(items: readonly BatchItem[]): Promise<(LatentBlock | WorldcastError)[]> {
    const natives = nativesOf(items.map((it) => it.session), 'stepMany');
    // A session whose start failed gets that failure in its slot; the others run.
    const waits = items.map((it) => it.session.pendingStart());
    const started = waits.some((w) => w)
      ? await Promise.all(waits.map((w) => (w ? w.then(() => null, (e: unknown) => e as WorldcastError) : null)))
      : waits.map(() => null); // nothing to wait for: queued now, in order
    const run = items.flatMap((it, k) => (started[k] === null ? [k] : []));
    const t0 = performance.now();
    const req = run.map((k) => ({ session: natives[k]!, ...items[k]!.session.encode(items[k]!.actions, items[k]!.geometry, items[k]!.frames), noise: items[k]!.noise, frames: items[k]!.frames }));
    const maps = run.map((k) => items[k]!.session.frameMaps(items[k]!)); // checked before anything runs
    const res = req.length > 0 ? await wrapAsync(() => this.#m.stepBatch(req)) : [];
    const out: (LatentBlock | WorldcastError)[] = started.map((e) => e as WorldcastError);
    await Promise.all(
      res.map(async (r, j) => {
        const k = run[j]!;
        if (!('block' in r)) return void (out[k] = fromNative(r.error) as WorldcastError);
        const block = await items[k]!.session.attachFrames(toBlock(r.block, t0), items[k]!, t0, maps[j]);
        block.latencyMs = performance.now() - t0;
        out[k] = block;
      }),
    );
    return out;
  }
  /**
   * Run now, as one batched forward, the commit passes that `foldCommit` sessions hold
   * back (each one's last block, which would otherwise be folded into its next step), so
   * that their next steps run only their denoising forwards — e.g. right after a batch,
   * while the engine would idle (the game server's engine does). The K/V written are the
   * fold's (exactly, with f32 pages). Sessions with nothing waiting are left alone. Each
   * slot of the result is null or that session's error (e.g. a full KV pool: its commit
   * stays waiting, and its next step meets the same refusal); `committed` counts the
   * commits run.
   */
  async commitPending(sessions: readonly Session[]): Promise<{ committed: number; errors: (WorldcastError | null)[] }> {
    const natives = nativesOf(sessions, 'commitPending');
    // A session still starting (opening, prompt) commits after its start, in order.
    await Promise.all(sessions.map((s) => s.pendingStart()?.catch(() => undefined)));
    const r = await wrapAsync(() => this.#m.commitBatch(natives));
    return { committed: r.committed, errors: r.errors.map((e) => (e ? (fromNative(e) as WorldcastError) : null)) };
  }
  /** Exact statistics of the model's KV pool. */
  kvStats(): KvStats {
    return this.#m.kvStats();
  }
  /** Refuse new work; sessions' pending work still completes. */
  close(): void {
    this.#m.close();
    if (this.#ownsDecoder) this.decoder?.close();
  }
  /** @internal */
  #ownsDecoder = false;
  /** @internal */
  setOwnsDecoder(): void {
    this.#ownsDecoder = true;
  }
}

/**
 * The GEMM kernel family each weight storage ({@link LoadOptions.weights}) runs on this
 * CPU, as {@link ModelInfo.gemmPath} would say of a model loaded with it: 'f32';
 * 'bf16_amx' / 'int8_amx' (AMX tiles, where the CPU and OS allow them: the fastest),
 * 'bf16_dot' / 'int8_dot' (AVX512_BF16 / AVX512_VNNI dot products) or 'bf16_widen' /
 * 'int8_widen' (weights widened to f32 per block: less memory, no faster).
 */
export function gemmPaths(): Record<WeightType, string> {
  return native().gemmPaths();
}

/** The error a session's failed start rejects its calls with: the cause's type, naming what failed. */
function startError(what: string, e: unknown): WorldcastError {
  const cause = fromNative(e);
  const message = `this session's start failed (${what}): ${cause instanceof Error ? cause.message : String(cause)}; close it and create another`;
  if (cause instanceof WorldcastError) {
    const Cls = cause.constructor as new (message: string, code: string, options?: { cause?: unknown }) => WorldcastError;
    return new Cls(message, cause.code, { cause });
  }
  return new WorldcastError(message, 'INTERNAL', { cause });
}

/** `openings.safetensors` of a model directory: name → latents (C, F, H, W); empty when absent. */
function readOpenings(dir: string, c: ModelConfig, blockFrames?: number): Map<string, Float32Array> {
  const file = join(dir, 'openings.safetensors');
  const out = new Map<string, Float32Array>();
  if (!existsSync(file)) return out;
  let tensors: Map<string, { shape: number[]; data: Float32Array }>;
  try {
    tensors = readSafetensors(file).tensors;
  } catch (e) {
    throw new WeightsError(`${file}: ${(e as Error).message}`, 'WEIGHTS', { cause: e });
  }
  for (const [name, t] of tensors) {
    const [C, F, H, W] = t.shape;
    if (t.shape.length !== 4 || C !== c.latent_channels || H !== c.latent_height || W !== c.latent_width || F! % c.num_frame_per_block !== 0)
      throw new WeightsError(
        `${file}: opening "${name}" has shape [${t.shape}], expected [${c.latent_channels}, F, ${c.latent_height}, ${c.latent_width}] with F a multiple of ${c.num_frame_per_block}` +
          (blockFrames !== undefined ? ` (blockFrames ${blockFrames}: pick a block size that divides the openings' ${F} frames)` : ''),
        'WEIGHTS',
      );
    out.set(name, t.data);
  }
  return out;
}

/**
 * A command line's `--denoising-steps 1000,500` as {@link LoadOptions.denoisingSteps}
 * (undefined: the model's own); loadModel checks the values themselves.
 */
export function denoisingStepsArg(v: string | undefined, what: string): number[] | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(',').map((p) => p.trim());
  if (parts.length > 64 || !parts.every((p) => /^\d{1,4}(\.\d{1,6})?$/.test(p)))
    throw new ArgumentError(`${what} must be comma-separated timesteps in (0, 1000], largest first (e.g. 1000,500), not ${JSON.stringify(v.slice(0, 80))}`, 'ARGUMENT');
  return parts.map(Number);
}

/** Load a model directory (config.json + *.safetensors with upstream tensor names). */
export async function loadModel(dir: string, opts: LoadOptions = {}): Promise<Model> {
  const addon = native();
  const { promptEncoder, decoder: decoderOpt, decoderThreads, decoderPrecision, ...nativeOpts } = opts;
  checkDecoderPrecision(decoderPrecision, 'decoderPrecision');
  if (decoderPrecision !== undefined && decoderOpt !== undefined && decoderOpt !== null && typeof decoderOpt !== 'string')
    throw new ArgumentError('decoderPrecision is for a decoder loadModel loads itself; a loaded Decoder keeps the precision it was loaded with', 'ARGUMENT');
  const m = wrapSync(() => new addon.Model(dir, nativeOpts));
  const config = m.config() as { text_dim: number; decoder: unknown };
  let decoder: Decoder | null = null;
  let owns = false;
  let openings: Map<string, Float32Array>;
  try {
    openings = readOpenings(dir, m.config() as unknown as ModelConfig, opts.blockFrames);
    if (decoderOpt === null) decoder = null;
    else if (decoderOpt !== undefined && typeof decoderOpt !== 'string') decoder = decoderOpt;
    else {
      const ddir = decoderOpt !== undefined ? resolve(decoderOpt) : modelDecoderDir(dir, config);
      if (ddir) {
        const precision = decoderPrecision;
        decoder = decoderThreads !== undefined ? await loadDecoder(ddir, { threads: decoderThreads, precision }) : await loadDecoderOn(ddir, { engine: m, precision });
        owns = true;
      }
    }
  } catch (e) {
    m.close();
    throw e;
  }
  let model: Model;
  try {
    model = new Model(m, promptEncoder ?? TablePromptEncoder.fromModelDir(dir, config.text_dim), decoder, openings);
  } catch (e) {
    m.close(); // e.g. a latent size the decoder's geometry scale does not divide
    if (owns) decoder?.close();
    throw e;
  }
  if (owns) model.setOwnsDecoder();
  return model;
}

/**
 * The video decoder: a native streaming TAEHV decoder (madebyollin/taehv; `taew2_1` for
 * the Wan 2.1 latent space) that turns blocks of latent frames into RGB frames, block
 * after block, carrying its temporal state from one block to the next.
 *
 * ```ts
 * const decoder = await loadDecoder('models/taew2_1', { threads: 2 });
 * const stream = decoder.createStream();          // one per video (per session)
 * const block = await session.step({ actions });  // latents in (C, F, H, W) order
 * const { frames, width, height } = await stream.decodeBlock(block);
 * for (const rgb of frames) send(rgb);            // Buffer, width * height * 3 bytes, RGB, row-major
 * ```
 *
 * Each latent frame becomes `t_upscale` frames (4 for taew2_1), except that a stream
 * drops its first `t_upscale - 1` frames (upstream's alignment with the Wan VAE), so the
 * first block of 3 latents gives 9 frames and every later one 12. Decoding a video block
 * by block gives exactly the frames of decoding it whole.
 *
 * A geometry-conditioned decoder (config key `geometry`, {@link DecoderGeometry}; worldcast's
 * extension, no time upscaling) also takes, with each frame, a map of the view's geometry
 * (`channels` × frame height / `scale` × frame width / `scale`) that its five plain
 * convolutions read as extra input channels:
 *
 * ```ts
 * const g = decoder.config.geometry!;               // {channels, scale, samples, near}
 * const hm = (H * decoder.config.space_scale) / g.scale, wm = (W * decoder.config.space_scale) / g.scale;
 * const maps = new Float32Array(F * g.channels * hm * wm);  // frame-major, each frame CHW
 * await stream.decode(latents, F, H, W, { geometry: maps });
 * ```
 */
import { ArgumentError, ClosedError, ConfigError, wrapAsync, wrapSync } from './errors.js';
import type { Model } from './model.js';
import { native, nativeModels, type NativeDecoded, type NativeDecoder, type NativeDecoderStream, type NativeModel } from './native.js';
import type { DecoderConfig, DecoderGeometry, DecoderStreamStats } from './types.js';

export type { DecoderConfig, DecoderGeometry, DecoderStreamStats };

/**
 * Arithmetic of the decoder's convolutions: 'f32', or 'bf16' — weights and each
 * convolution's input rounded to bfloat16, products summed in f32 (AVX512_BF16 dot
 * products: about twice the f32 rate; refused with a ConfigError on CPUs without them,
 * where it would only be slower).
 */
export type DecoderPrecision = 'f32' | 'bf16';

/**
 * @internal `v` as a {@link DecoderPrecision} (undefined stays undefined): an ArgumentError
 * naming `what` (an option or a command-line flag) for anything else.
 */
export function checkDecoderPrecision(v: unknown, what: string): DecoderPrecision | undefined {
  if (v === undefined || v === 'f32' || v === 'bf16') return v;
  throw new ArgumentError(`${what} must be 'f32' or 'bf16', not ${String(v)}`, 'ARGUMENT');
}

/** Options of {@link loadDecoder}. */
export interface DecoderOptions {
  /** Convolution arithmetic (default 'f32'); see {@link DecoderPrecision}. */
  precision?: DecoderPrecision;
  /** Compute threads of this decoder's engine thread pool (default: the number of cores). */
  threads?: number;
  /**
   * Run on this model's engine thread and compute threads instead of threads of its own:
   * the decodes and the model's steps take turns in the order they are asked for (no two
   * pools contending for the same cores). Not with `threads`. What {@link loadModel} does
   * for a decoder it loads itself unless given `decoderThreads`.
   */
  engine?: Model;
}

/** Where the weights came from, the SIMD level in use, thread count, weight bytes. */
export interface DecoderInfo {
  /** The decoder directory, as passed to {@link loadDecoder}. */
  dir: string;
  /** SIMD level the weights were packed for and the convolutions run: 'scalar', 'avx2' or 'avx512'. */
  isa: string;
  /** Arithmetic of the convolutions ({@link DecoderOptions.precision}). */
  precision: DecoderPrecision;
  /** Compute threads of the decoder's engine thread pool. */
  threads: number;
  /** Bytes of the loaded (packed) weights in memory. */
  weightBytes: number;
  /**
   * How many convolutions run each algorithm: `winograd` F(4×4, 3×3) (f32 3×3 convs with at
   * least 8 outputs on AVX2 and scalar hosts; ~2.3× faster there, rounding ~1e-6 of the
   * output's scale instead of ~1e-7) or `direct` (1×1 convs, the RGB head, bf16, AVX-512).
   */
  convolutions: { direct: number; winograd: number };
  /** The geometry map the decoder takes with each frame (see {@link DecoderGeometry}); absent for a plain decoder. */
  geometry?: DecoderGeometry;
}

/** Options of one {@link DecoderStream.decode} call. */
export interface DecodeOptions {
  /**
   * A geometry decoder's maps, one per latent frame (= output frame): `frames` ×
   * `channels` × (height × space_scale / scale) × (width × space_scale / scale) floats,
   * frame-major, each frame in (C, H, W) order. Required by a decoder whose config has
   * `geometry`, refused by any other (an ArgumentError, before anything is queued).
   */
  geometry?: Float32Array;
}

/**
 * @internal Floats of one frame's geometry map for latents of height × width, or 0 when the
 * decoder takes none. A ConfigError when the frame size is not a multiple of the map's scale.
 */
export function decoderMapSize(config: DecoderConfig, height: number, width: number): { channels: number; height: number; width: number } | null {
  const g = config.geometry;
  if (!g) return null;
  const fh = height * config.space_scale;
  const fw = width * config.space_scale;
  if (fh % g.scale !== 0 || fw % g.scale !== 0)
    throw new ConfigError(`decoder geometry scale ${g.scale} does not divide the frame size ${fh}x${fw} (latents ${height}x${width})`, 'CONFIG');
  return { channels: g.channels, height: fh / g.scale, width: fw / g.scale };
}

/** The frames one decode call produced. */
export interface DecodedFrames<T> {
  /**
   * The new frames in time order: `Buffer`s of `height * width * channels` bytes (RGB,
   * row-major, interleaved; `round(255 x)` of the decoder's [0, 1] output) from
   * {@link DecoderStream.decode}, or `Float32Array`s in (C, H, W) order with values in
   * [0, 1] from {@link DecoderStream.decodeF32}.
   */
  frames: T[];
  /** Channels of each frame (the config's `image_channels`; 3 for RGB). */
  channels: number;
  /** Frame height in pixels (latent height × `space_scale`). */
  height: number;
  /** Frame width in pixels (latent width × `space_scale`). */
  width: number;
  /** Wall-clock seconds of the decode on the engine thread. */
  seconds: number;
  /** Latent frames this stream has taken in so far. */
  latentFrames: number;
  /** Frames this stream has returned so far. */
  framesOut: number;
}

/** A block of latents as {@link Session.step} returns it. */
export interface LatentBlockLike {
  /** Latents in (C, F, H, W) order, C = the decoder's `latent_channels`. */
  latents: Float32Array;
  /** Latent frames in the block (F). */
  frames: number;
  /** Latent frame height (H). */
  height: number;
  /** Latent frame width (W). */
  width: number;
}

function toDecoded<T>(d: NativeDecoded<T>): DecodedFrames<T> {
  return {
    frames: d.frames,
    channels: d.channels,
    height: d.height,
    width: d.width,
    seconds: d.seconds,
    latentFrames: d.latentFrames,
    framesOut: d.framesOut,
  };
}

/**
 * One video being decoded: the decoder's per-stream temporal state (each MemBlock's input
 * at the previous frame) and the count of frames produced. Calls run in order on the
 * decoder's engine thread and return at once.
 */
export class DecoderStream {
  readonly #s: NativeDecoderStream;
  readonly #totals: DecoderTotals;
  readonly #config: DecoderConfig;
  /** @internal */
  constructor(s: NativeDecoderStream, totals: DecoderTotals, config: DecoderConfig) {
    this.#s = s;
    this.#totals = totals;
    this.#config = config;
    totals.streams++;
  }
  /** The native call's options, checked here (synchronously: nothing is queued on a bad map). */
  #opts(opts: DecodeOptions | undefined, frames: number, height: number, width: number): { geometry?: Float32Array } | undefined {
    if (opts !== undefined && (opts === null || typeof opts !== 'object'))
      throw new ArgumentError('decode options must be an object {geometry?}', 'ARGUMENT');
    const geometry = opts?.geometry;
    const g = this.#config.geometry;
    if (!g) {
      if (geometry !== undefined) throw new ArgumentError('decode: this decoder takes no geometry map (its config has no "geometry")', 'ARGUMENT');
      return undefined;
    }
    if (geometry === undefined)
      throw new ArgumentError(`decode: this decoder takes a geometry map per frame (options.geometry: frames x ${g.channels} x height/${g.scale} x width/${g.scale} of the frame)`, 'ARGUMENT');
    if (!(geometry instanceof Float32Array)) throw new ArgumentError('decode: options.geometry must be a Float32Array', 'ARGUMENT');
    // Sizes the native call checks again; a bad one is refused here with the expected shape.
    if (Number.isInteger(frames) && Number.isInteger(height) && Number.isInteger(width) && frames >= 1 && height >= 1 && width >= 1) {
      const m = decoderMapSize(this.#config, height, width)!;
      const want = frames * m.channels * m.height * m.width;
      if (geometry.length !== want)
        throw new ArgumentError(`decode: options.geometry has ${geometry.length} values, expected ${want} (${frames} frames x ${m.channels} x ${m.height} x ${m.width})`, 'ARGUMENT');
    }
    return { geometry };
  }
  #count<T>(latentFrames: number, d: NativeDecoded<T>): NativeDecoded<T> {
    this.#totals.latentFrames += latentFrames;
    this.#totals.frames += d.frames.length;
    return d;
  }
  /** Whether {@link close} has been called. */
  get closed(): boolean {
    return this.#s.closed;
  }
  /**
   * Decode the next latent frames: `latents` in (C, F, H, W) order with C =
   * `latent_channels`, F = `frames`. The latent size is fixed from the stream's first
   * decode until {@link reset}. Resolves to RGB byte frames (external Buffers, no copy).
   */
  decode(latents: Float32Array, frames: number, height: number, width: number, opts?: DecodeOptions): Promise<DecodedFrames<Buffer>> {
    return wrapAsync(async () => {
      const o = this.#opts(opts, frames, height, width);
      return toDecoded(this.#count(frames, await this.#s.decode(latents, frames, height, width, o)));
    });
  }
  /** {@link decode} with float frames in (C, H, W) order and [0, 1] (for tests and further processing). */
  decodeF32(latents: Float32Array, frames: number, height: number, width: number, opts?: DecodeOptions): Promise<DecodedFrames<Float32Array>> {
    return wrapAsync(async () => {
      const o = this.#opts(opts, frames, height, width);
      return toDecoded(this.#count(frames, await this.#s.decodeF32(latents, frames, height, width, o)));
    });
  }
  /** {@link decode} of a block as `Session.step()` returns it (`opts.geometry`: its frames' maps, for a geometry decoder). */
  decodeBlock(block: LatentBlockLike, opts?: DecodeOptions): Promise<DecodedFrames<Buffer>> {
    if (block === null || typeof block !== 'object' || !(block.latents instanceof Float32Array))
      throw new ArgumentError('decodeBlock takes {latents: Float32Array, frames, height, width}', 'ARGUMENT');
    return this.decode(block.latents, block.frames, block.height, block.width, opts);
  }
  /** After the pending decodes, a new stream that continues from this one's temporal state. */
  async fork(): Promise<DecoderStream> {
    return new DecoderStream(await wrapAsync(() => this.#s.fork()), this.#totals, this.#config);
  }
  /** Start over after the pending decodes: no temporal state, start-up frames trimmed again, any latent size. */
  reset(): Promise<void> {
    return wrapAsync(() => this.#s.reset());
  }
  /** Latent frames in, frames out, bytes of state (after the pending decodes). */
  stats(): Promise<DecoderStreamStats> {
    return wrapAsync(() => this.#s.stats());
  }
  /** Finish pending decodes and release the stream's state. */
  close(): Promise<void> {
    return wrapAsync(() => this.#s.close());
  }
}

/** Work done by a decoder over all its streams. */
export interface DecoderTotals {
  /** Streams created (forks included). */
  streams: number;
  /** Latent frames decoded. */
  latentFrames: number;
  /** Frames produced. */
  frames: number;
}

/** Loaded decoder weights plus the engine thread its streams run on. */
export class Decoder {
  readonly #d: NativeDecoder;
  readonly #totals: DecoderTotals = { streams: 0, latentFrames: 0, frames: 0 };
  /** The parsed config.json and the values derived from it. */
  readonly config: DecoderConfig;
  /** @internal */
  constructor(d: NativeDecoder) {
    this.#d = d;
    this.config = d.config();
  }
  /** Where the weights came from, the SIMD level in use, thread count, weight bytes. */
  info(): DecoderInfo {
    return this.#d.info();
  }
  /** A new stream (one per video). Streams share the weights and the engine thread. */
  createStream(): DecoderStream {
    if (this.#d.closed) throw new ClosedError('decoder is closed', 'CLOSED');
    return new DecoderStream(wrapSync(() => this.#d.createStream()), this.#totals, this.config);
  }
  /** What this decoder has done over all its streams since it was loaded (every decode is counted). */
  get totals(): Readonly<DecoderTotals> {
    return { ...this.#totals };
  }
  /** Whether {@link close} has been called. */
  get closed(): boolean {
    return this.#d.closed;
  }
  /** Refuse new work; pending decodes still complete. */
  close(): void {
    this.#d.close();
  }
}

/**
 * Load a decoder directory: `config.json` (see {@link DecoderConfig}) and `*.safetensors`
 * with upstream TAEHV tensor names (`decoder.1.weight`, `decoder.3.conv.0.weight`, …;
 * `encoder.*` tensors are ignored). Convert an upstream `.pth` with `tools/convert_taehv.py`.
 * Throws WeightsError (naming file and tensor) or ConfigError.
 */
export async function loadDecoder(dir: string, opts: DecoderOptions = {}): Promise<Decoder> {
  if (opts === null || typeof opts !== 'object') throw new ArgumentError('loadDecoder options must be an object', 'ARGUMENT');
  const { engine, ...rest } = opts;
  if (engine === undefined) return loadDecoderOn(dir, rest);
  const m = nativeModels.get(engine as object);
  if (!m) throw new ArgumentError('loadDecoder: engine must be a worldcast Model', 'ARGUMENT');
  return loadDecoderOn(dir, { ...rest, engine: m });
}

/** @internal {@link loadDecoder} with the engine as the native model (loadModel's own decoder). */
export async function loadDecoderOn(dir: string, opts: { threads?: number; engine?: NativeModel; precision?: DecoderPrecision }): Promise<Decoder> {
  const addon = native();
  return new Decoder(wrapSync(() => new addon.Decoder(dir, opts)));
}

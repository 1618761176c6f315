/**
 * Frame codecs: how an RGB frame becomes the payload of a frame envelope. JPEG through
 * sharp by default; raw RGB for tiny frames (where JPEG's headers outweigh the pixels).
 * Any object with a name and an encode function is a codec.
 */
import sharp from 'sharp';

/** Encodes one RGB frame (height × width × 3 bytes, row-major, interleaved). */
export interface FrameCodec {
  /** Goes into the envelope header's `codec` field. */
  readonly name: string;
  encode(rgb: Uint8Array, width: number, height: number): Promise<Uint8Array> | Uint8Array;
}

/** The pixels as they are. */
export class RawCodec implements FrameCodec {
  readonly name = 'raw';
  encode(rgb: Uint8Array): Uint8Array {
    return rgb;
  }
}

/**
 * Baseline JPEG via sharp (libvips; runs on libuv's thread pool, off the event loop).
 * Quality 85 by default: on the default world's 128×128 frames, 80 (1.63 KB a frame) lost
 * the model's rendition of another player — a few pixels of its colour — to the 8×8
 * quantisation in a quarter of the frames of the two-player scenario (the eval's detector
 * on the decoded JPEG: 16–19 of 24 frames against 24 of 24 raw), where 85 (1.85 KB, +14%)
 * kept it in all 24 and the browser's page shows it in 23 of 24 samples.
 */
export class JpegCodec implements FrameCodec {
  readonly name = 'jpeg';
  readonly quality: number;
  constructor(opts: { quality?: number } = {}) {
    this.quality = opts.quality ?? 85;
  }
  async encode(rgb: Uint8Array, width: number, height: number): Promise<Uint8Array> {
    return sharp(rgb, { raw: { width, height, channels: 3 } })
      .jpeg({ quality: this.quality, chromaSubsampling: '4:2:0', mozjpeg: false })
      .toBuffer();
  }
}

/** Raw RGB up to `rawMaxPixels` pixels per frame, JPEG above. */
export class AutoCodec implements FrameCodec {
  readonly raw = new RawCodec();
  readonly jpeg: JpegCodec;
  readonly rawMaxPixels: number;
  constructor(opts: { quality?: number; rawMaxPixels?: number } = {}) {
    this.jpeg = new JpegCodec(opts);
    this.rawMaxPixels = opts.rawMaxPixels ?? 64 * 64;
  }
  get name(): string {
    return 'auto';
  }
  /** The codec a frame of this size uses. */
  pick(width: number, height: number): FrameCodec {
    return width * height <= this.rawMaxPixels ? this.raw : this.jpeg;
  }
  encode(rgb: Uint8Array, width: number, height: number): Promise<Uint8Array> | Uint8Array {
    return this.pick(width, height).encode(rgb, width, height);
  }
}

/** The name a frame is labelled with: AutoCodec resolves to the codec it picks. */
export function codecName(codec: FrameCodec, width: number, height: number): string {
  return codec instanceof AutoCodec ? codec.pick(width, height).name : codec.name;
}

/** Make a codec from a name ('jpeg', 'raw', 'auto') or pass a codec object through. */
export function resolveCodec(c: FrameCodec | 'jpeg' | 'raw' | 'auto' | undefined, quality?: number): FrameCodec {
  if (c === undefined || c === 'auto') return new AutoCodec({ quality });
  if (c === 'jpeg') return new JpegCodec({ quality });
  if (c === 'raw') return new RawCodec();
  if (typeof c === 'object' && c !== null && typeof c.encode === 'function' && typeof c.name === 'string') return c;
  throw new Error(`unknown codec ${String(c)}`);
}

/**
 * A stand-in picture when no video decoder is configured: each latent frame as an RGB
 * image at latent resolution, from its first three channels mapped [-2, 2] → [0, 255].
 */
export function latentPreview(latents: Float32Array, channels: number, frames: number, height: number, width: number): Buffer[] {
  const out: Buffer[] = [];
  const hw = height * width;
  for (let f = 0; f < frames; f++) {
    const img = Buffer.alloc(hw * 3);
    for (let c = 0; c < 3; c++) {
      const src = Math.min(c, channels - 1);
      const base = (src * frames + f) * hw;
      for (let i = 0; i < hw; i++) {
        const v = Math.round(((latents[base + i]! + 2) / 4) * 255);
        img[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
    out.push(img);
  }
  return out;
}

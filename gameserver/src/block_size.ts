/**
 * How many latent frames a room's next blocks take. A small block is submitted more often,
 * so an input waits less for the block that carries it; a large one costs less engine time
 * per frame (the forwards' fixed costs are shared by its frames, the GEMMs have more rows).
 * A room whose model takes blocks of several sizes (sessions with `minBlockFrames`) asks
 * this controller before each submit: it takes the smallest block the engine keeps up with.
 *
 *   - the engine's load: the share of the last {@link SizerOptions.windowMs} its thread was
 *     busy (batched steps, commits and the decodes on it; {@link WorldEngine.load});
 *   - above `high` the blocks grow by a frame (the engine is near the point where frames
 *     come late);
 *   - below it they shrink by one when the load the smaller block would put on the engine —
 *     today's scaled by the measured engine time per frame of the two sizes — stays under
 *     `low`. A size not measured yet is guessed at (F/F')^(1/3) the time per frame of F: the
 *     default world's game server spent 1.48× the engine time per frame on blocks of 1 as on
 *     blocks of 3 (README: 12.7 s against 8.6 s busy for one player), and (3/1)^(1/3) = 1.44.
 *     A wrong guess costs one step down and back up: the size is measured from then on;
 *   - after a change it waits `holdMs`, so the load it measures is that of the new size.
 *
 * It starts at the largest block, the cautious end: a room that opens on a busy engine adds
 * the least load, and smaller blocks come once the load says there is room (a 1-frame
 * block's quality is a little below the model's own block size: the README's figures).
 */
export interface SizerOptions {
  /** Load above which blocks grow (default 0.9). */
  high?: number;
  /** Load a smaller block must be predicted to stay under (default 0.8). */
  low?: number;
  /** Time after a change before the next one (ms, default 1500). */
  holdMs?: number;
  /** The window the engine's load is measured over (ms, default 2000). */
  windowMs?: number;
}

export class BlockSizer {
  readonly min: number;
  readonly max: number;
  readonly high: number;
  readonly low: number;
  readonly holdMs: number;
  readonly windowMs: number;
  /** The size the next blocks take. */
  frames: number;
  #changedAt = -Infinity;
  /** Recent engine seconds per frame, by block size. */
  readonly #perFrame = new Map<number, number[]>();

  constructor(min: number, max: number, o: SizerOptions = {}) {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max < min) throw new RangeError(`BlockSizer: block sizes ${min}..${max}`);
    this.min = min;
    this.max = max;
    this.high = o.high ?? 0.9;
    this.low = o.low ?? 0.8;
    this.holdMs = o.holdMs ?? 1500;
    this.windowMs = o.windowMs ?? 2000;
    if (!(this.low > 0 && this.low <= this.high && this.high <= 1)) throw new RangeError(`BlockSizer: need 0 < low <= high <= 1, not ${this.low}, ${this.high}`);
    this.frames = max;
  }

  /** A block of `frames` frames took `seconds` of engine time (its batch's). */
  record(frames: number, seconds: number): void {
    if (!(seconds > 0)) return;
    const w = this.#perFrame.get(frames) ?? [];
    w.push(seconds / frames);
    if (w.length > 8) w.shift();
    this.#perFrame.set(frames, w);
  }

  /** Engine seconds per frame at this size (median of the recent blocks; undefined: none measured). */
  perFrame(frames: number): number | undefined {
    const w = this.#perFrame.get(frames);
    if (!w || w.length === 0) return undefined;
    const s = [...w].sort((a, b) => a - b);
    return s[s.length >> 1];
  }

  /** The load a block of `frames` frames would put on the engine, from today's `load` at the current size. */
  predict(load: number, frames: number): number {
    if (frames === this.frames) return load;
    const now = this.perFrame(this.frames);
    const then = this.perFrame(frames);
    const ratio = now !== undefined && then !== undefined ? then / now : Math.cbrt(this.frames / frames); // unmeasured: the guess above
    return load * ratio;
  }

  /** The size of the next blocks, given the engine's load now (0..1) at time `nowMs`. */
  next(load: number, nowMs: number): number {
    if (this.min === this.max || nowMs - this.#changedAt < this.holdMs) return this.frames;
    let f = this.frames;
    if (load > this.high && f < this.max) f++;
    else if (f > this.min && this.predict(load, f - 1) < this.low) f--;
    if (f !== this.frames) {
      this.frames = f;
      this.#changedAt = nowMs;
    }
    return this.frames;
  }
}

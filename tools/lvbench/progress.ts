/**
 * A progress bar on stderr for the frames a comparison generates: on a terminal one line
 * redrawn in place, elsewhere (CI logs, pipes) a line every 10% of each video.
 */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
}

const fmtTime = (s: number): string => (!Number.isFinite(s) ? '?' : s >= 60 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`);

/** Progress over `totalFrames` frames to generate (videos already done are not counted). */
export class Progress {
  readonly #out: ProgressStream;
  readonly #total: number;
  readonly #t0 = performance.now();
  #done = 0;
  #label = '';
  #lastDecile = -1;
  #width = 0;
  constructor(totalFrames: number, out: ProgressStream = process.stderr) {
    this.#total = Math.max(1, totalFrames);
    this.#out = out;
  }
  /** Starts a video: `label` names it (run, video, i/n). */
  start(label: string): void {
    this.#label = label;
    this.#lastDecile = -1;
  }
  /** Frames done of the current video (`frames` of `of`, `t` seconds of video). */
  update(newFrames: number, frames: number, of: number, fps: number): void {
    this.#done += newFrames;
    const el = (performance.now() - this.#t0) / 1e3;
    const rate = this.#done / Math.max(el, 1e-6);
    const eta = (this.#total - this.#done) / rate;
    const pct = Math.min(100, (100 * this.#done) / this.#total);
    const bar = '█'.repeat(Math.round(pct / 5)).padEnd(20, '░');
    const line = `lvbench [${bar}] ${pct.toFixed(0).padStart(3)}% ${this.#label} ${(frames / fps).toFixed(1)}/${(of / fps).toFixed(1)} s, ${rate.toFixed(1)} frames/s, ETA ${fmtTime(eta)}`;
    if (this.#out.isTTY) {
      this.#out.write('\r' + line.padEnd(this.#width));
      this.#width = line.length;
    } else {
      const decile = Math.floor((10 * frames) / Math.max(1, of));
      if (decile !== this.#lastDecile) {
        this.#lastDecile = decile;
        this.#out.write(line + '\n');
      }
    }
  }
  /** Ends the bar's line. */
  end(): void {
    if (this.#out.isTTY && this.#width) this.#out.write('\n');
    this.#width = 0;
  }
}

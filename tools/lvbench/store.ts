/**
 * The on-disk record of a generated video, which makes a comparison resumable.
 *
 * `<out>/videos/<run>/<video>/` holds `frames.rgb` (the frames' RGB bytes, HWC, one after the
 * other; written as blocks arrive under `frames.rgb.partial`, renamed when the video is whole),
 * `video.json` (the {@link VideoRecord}: what was generated, with which key, how fast) and
 * `scores.json` (per scorer: the per-chunk values, keyed by the scorer's id and the chunking).
 * A video is done when video.json's key equals the key of the requested generation and
 * frames.rgb has all its bytes; anything else is generated again from the start (a session's
 * KV state is not saved, so a video cannot resume half-way).
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** What a generated video is, how it was made and how long it took. */
export interface VideoRecord {
  /** Hash of everything that determines the frames (model, run, video, length). */
  key: string;
  run: string;
  video: string;
  frames: number;
  width: number;
  height: number;
  fps: number;
  seconds: number;
  blocks: number;
  /** Wall seconds of the generation (steps, decode, prompt switches). */
  wallSeconds: number;
  /** Seconds inside step() (denoise + commit + decode). */
  stepSeconds: number;
  /** The prompt switches applied: video time (s) and caption. */
  prompts: { t: number; text: string }[];
  createdAt: string;
}

/** Scores of one scorer on one video. */
export interface ScoreRecord {
  /** The scorer's id (name and settings) and the chunking they were computed for. */
  scorer: string;
  key: string;
  chunks: number[];
  seconds: number;
}

/** FNV-1a 64-bit (two 32-bit halves) of a JSON value, hex: a stable key of a configuration. */
export function keyOf(value: unknown): string {
  const s = JSON.stringify(value);
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

/** The folder of one (run, video). */
export function videoDir(out: string, run: string, video: string): string {
  return join(out, 'videos', run, video);
}

/** The finished video's record when it matches `key` and its frames are all there, else null. */
export function readDone(dir: string, key: string): VideoRecord | null {
  const meta = join(dir, 'video.json');
  const frames = join(dir, 'frames.rgb');
  if (!existsSync(meta) || !existsSync(frames)) return null;
  let rec: VideoRecord;
  try {
    rec = JSON.parse(readFileSync(meta, 'utf8')) as VideoRecord;
  } catch {
    return null;
  }
  if (rec.key !== key) return null;
  if (statSync(frames).size !== rec.frames * rec.width * rec.height * 3) return null;
  return rec;
}

/** Appends frames to `frames.rgb.partial` as they come; {@link finish} makes the video done. */
export class FrameWriter {
  readonly #dir: string;
  #fd: number;
  constructor(dir: string) {
    this.#dir = dir;
    mkdirSync(dir, { recursive: true });
    for (const f of ['video.json', 'frames.rgb', 'scores.json']) rmSync(join(dir, f), { force: true });
    this.#fd = openSync(join(dir, 'frames.rgb.partial'), 'w');
  }
  write(rgb: Uint8Array): void {
    writeSync(this.#fd, rgb);
  }
  finish(rec: VideoRecord): void {
    closeSync(this.#fd);
    this.#fd = -1;
    renameSync(join(this.#dir, 'frames.rgb.partial'), join(this.#dir, 'frames.rgb'));
    writeFileSync(join(this.#dir, 'video.json'), JSON.stringify(rec, null, 1) + '\n');
  }
  /** Closes without finishing (the partial file stays and is overwritten by the next try). */
  abort(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}

/** The frames of a done video (views into one buffer). */
export function readFrames(dir: string, rec: VideoRecord): Uint8Array[] {
  const buf = readFileSync(join(dir, 'frames.rgb'));
  const fb = rec.width * rec.height * 3;
  return Array.from({ length: rec.frames }, (_, i) => new Uint8Array(buf.buffer, buf.byteOffset + i * fb, fb));
}

/** The cached scores of a video (scorer id → record). */
export function readScores(dir: string): Record<string, ScoreRecord> {
  const f = join(dir, 'scores.json');
  if (!existsSync(f)) return {};
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as Record<string, ScoreRecord>;
  } catch {
    return {};
  }
}

/** Saves the scores of a video (written whole after each scorer, so a rerun keeps what finished). */
export function writeScores(dir: string, scores: Record<string, ScoreRecord>): void {
  const f = join(dir, 'scores.json');
  writeFileSync(f + '.tmp', JSON.stringify(scores) + '\n');
  renameSync(f + '.tmp', f);
}

/**
 * The scripted actions of a manifest video that has none: walk forward with gentle turns.
 *
 * Segments of 1–3 s (uniform) follow each other from t = 0; in each the `w` key is held and the
 * mouse turns at a constant dx drawn uniformly from [−0.3, 0.3] (dy 0). The draws come from
 * mulberry32 seeded with the video's seed, so every run of a comparison (and every rerun) sees
 * the same actions, and two videos with different seeds different ones.
 */
import type { ActionSegment } from './manifest.js';

/** Longest and shortest scripted segment, seconds. */
export const SCRIPT_SEGMENT_SECONDS = [1, 3] as const;
/** Largest |dx| of a scripted turn. */
export const SCRIPT_MAX_TURN = 0.3;

/** mulberry32: a small, well-mixed 32-bit generator; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The scripted action segments covering [0, seconds). */
export function scriptedActions(seed: number, seconds: number): ActionSegment[] {
  if (!(seconds > 0)) throw new Error(`scripted actions need a positive length (got ${seconds} s)`);
  const rnd = mulberry32(seed);
  const [lo, hi] = SCRIPT_SEGMENT_SECONDS;
  const out: ActionSegment[] = [];
  let t = 0;
  while (t < seconds) {
    const len = lo + (hi - lo) * rnd();
    const dx = Math.round((2 * rnd() - 1) * SCRIPT_MAX_TURN * 1000) / 1000;
    out.push({ start: t, end: t + len, keys: ['w'], mouse: { dx, dy: 0 } });
    t += len;
  }
  return out;
}

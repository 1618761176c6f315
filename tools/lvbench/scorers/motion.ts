/**
 * Motion smoothness, computed as VBench's `MotionSmoothness.motion_score` (vbench/
 * motion_smoothness.py, in Inferix's LV-Bench/ as LV-Bench's `VDE Motion` runs it) with a
 * classical interpolator (interpolate.ts) in place of AMT-S:
 *
 * 1. keep the even frames 0, 2, 4, … of the chunk (`extract_frame(frames, start_from=0)`);
 * 2. interpolate the middle of each consecutive pair of them (1 iteration);
 * 3. compare each interpolated frame with the odd frame it stands for, `mean(absdiff)` over all
 *    RGB bytes (`get_diff`), and average over the pairs (`vfi_score`);
 * 4. the score is `(255 − vfi) / 255`: 1 for motion the interpolator predicts perfectly (a static
 *    video), lower for jerky, flickering or unpredictable motion.
 */
import { interpolateMiddle, type InterpolateOptions } from './interpolate.js';
import { checkChunk, type Chunk, type Scorer } from './scorer.js';

/** Mean |a − b| over all bytes. */
function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

/** VBench's motion score of a list of frames with the bilateral block-matching interpolator. */
export function motionScore(frames: readonly Uint8Array[], width: number, height: number, opts: InterpolateOptions = {}): number {
  const diffs: number[] = [];
  for (let i = 0; i + 2 < frames.length; i += 2) {
    const mid = interpolateMiddle(frames[i]!, frames[i + 2]!, width, height, opts);
    diffs.push(meanAbsDiff(mid, frames[i + 1]!));
  }
  if (diffs.length === 0) throw new Error(`motion smoothness needs at least 3 frames (got ${frames.length})`);
  const vfi = diffs.reduce((x, y) => x + y, 0) / diffs.length;
  return (255 - vfi) / 255;
}

export function motionScorer(opts: InterpolateOptions = {}): Scorer {
  const o = { block: opts.block ?? 8, radius: opts.radius ?? 4, lambda: opts.lambda ?? 0.25 };
  const s: Scorer = {
    name: 'motion',
    id: `motion/bilateral-bm-b${o.block}-r${o.radius}-l${o.lambda}-v1`,
    description: `(255 − mean |odd frame − interpolation of its even neighbours|) / 255, interpolation by bilateral block matching (${o.block}×${o.block} blocks, ±${o.radius} px) (1 = perfectly predictable motion)`,
    upstream: 'VBench motion_smoothness (AMT-S interpolation), LV-Bench VDE Motion; here a classical motion-compensated interpolator',
    minFrames: 3,
    scoreChunk(chunk: Chunk): number {
      checkChunk(s, chunk);
      return motionScore(chunk.frames, chunk.width, chunk.height, o);
    },
  };
  return s;
}

/**
 * Clarity: a no-reference sharpness measure standing in for VBench's imaging quality (MUSIQ
 * trained on SPAQ), which LV-Bench's `VDE Clarity` uses.
 *
 * Per frame, `(VL · T)^(1/4)` = the geometric mean of `sqrt(VL)` and `sqrt(T)`, where VL is the
 * variance of the Laplacian of the luma (Pech-Pacheco et al. 2000) and T the Tenengrad, the mean
 * squared Sobel gradient (tools/eval/metrics.ts). Both are the standard focus measures of
 * autofocus and blur detection and both fall monotonically as a frame blurs: the Laplacian
 * answers to the finest detail (the first thing a drifting generator loses), the Sobel gradient
 * to edges at a slightly coarser scale (it keeps answering when fine texture is already gone).
 * Taking the square roots puts both in luma levels, and the geometric mean makes the relative
 * change — all VDE looks at — the mean of the two relative (log) changes, so neither term
 * dominates by its scale. The chunk's value is the mean over its frames, as VBench averages
 * MUSIQ over a video's frames. Unlike MUSIQ it rewards noise as "detail"; a video that turns
 * noisy drifts in clarity too (up instead of down), which VDE counts all the same (|m_i − m_1|).
 */
import { laplacianVariance, tenengrad } from '../../eval/metrics.js';
import { checkChunk, type Chunk, type Scorer } from './scorer.js';

/** The clarity of one frame: (variance of Laplacian × Tenengrad)^(1/4), in luma levels. */
export function frameClarity(rgb: Uint8Array, width: number, height: number): number {
  return Math.sqrt(Math.sqrt(laplacianVariance(rgb, width, height) * tenengrad(rgb, width, height)));
}

export function clarityScorer(): Scorer {
  const s: Scorer = {
    name: 'clarity',
    id: 'clarity/lapvar-tenengrad-v1',
    description: 'mean over frames of (variance of Laplacian × mean squared Sobel gradient)^(1/4) of the luma (higher = sharper)',
    upstream: 'VBench imaging_quality (MUSIQ-SPAQ), LV-Bench VDE Clarity; here a classical no-reference sharpness measure',
    minFrames: 1,
    scoreChunk(chunk: Chunk): number {
      checkChunk(s, chunk);
      let sum = 0;
      for (const f of chunk.frames) sum += frameClarity(f, chunk.width, chunk.height);
      return sum / chunk.frames.length;
    },
  };
  return s;
}

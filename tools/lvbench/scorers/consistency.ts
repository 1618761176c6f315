/**
 * Subject and background consistency, computed as LV-Bench computes them per chunk (Inferix
 * LV-Bench/metrics.py `compute_subject_consistency` with DINO ViT-B/16 and
 * `compute_background_consistency` with CLIP ViT-B/32, both from VBench): L2-normalise each
 * frame's feature vector; for every frame i ≥ 1 of the chunk take
 * `(max(0, cos(f_{i−1}, f_i)) + max(0, cos(f_0, f_i))) / 2`; the chunk's value is their mean
 * (sum / (frames − 1)). Here the features are classical (features.ts): HOG for the subject,
 * the colour layout for the background. The ONNX scorer (onnx.ts) runs the same formula on a
 * user-supplied network's embeddings.
 *
 * One deliberate difference: two all-zero feature vectors (e.g. the HOG of two blank frames)
 * count as identical (cosine 1), where torch's normalise-then-cosine would give 0.
 */
import { colourLayout, hog } from './features.js';
import { checkChunk, type Chunk, type Scorer } from './scorer.js';

/** Cosine similarity; 1 for two zero vectors, 0 for one. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`cosine of vectors of ${a.length} and ${b.length} values`);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  if (aa === 0 && bb === 0) return 1;
  if (aa === 0 || bb === 0) return 0;
  return ab / Math.sqrt(aa * bb);
}

/** VBench's consistency of a sequence of per-frame features (≥ 2 of them). */
export function consistency(features: readonly ArrayLike<number>[]): number {
  if (features.length < 2) throw new Error(`consistency needs at least 2 frames (got ${features.length})`);
  let s = 0;
  for (let i = 1; i < features.length; i++) {
    const pre = Math.max(0, cosine(features[i - 1]!, features[i]!));
    const fir = Math.max(0, cosine(features[0]!, features[i]!));
    s += (pre + fir) / 2;
  }
  return s / (features.length - 1);
}

function featureScorer(
  name: string,
  id: string,
  description: string,
  upstream: string,
  feature: (rgb: Uint8Array, w: number, h: number) => Float64Array,
): Scorer {
  const s: Scorer = {
    name,
    id,
    description,
    upstream,
    minFrames: 2,
    scoreChunk(chunk: Chunk): number {
      checkChunk(s, chunk);
      return consistency(chunk.frames.map((f) => feature(f, chunk.width, chunk.height)));
    },
  };
  return s;
}

export function subjectScorer(): Scorer {
  return featureScorer(
    'subject',
    'subject/hog-c8-b2-v1',
    'mean over frames of (cos(previous, this) + cos(first, this)) / 2 of HOG descriptors (shapes and edges; 1 = unchanged)',
    'VBench subject_consistency (DINO ViT-B/16 features), LV-Bench VDE Subject; here HOG features',
    hog,
  );
}

export function backgroundScorer(): Scorer {
  return featureScorer(
    'background',
    'background/colour-layout-4x4x64-v1',
    'mean over frames of (cos(previous, this) + cos(first, this)) / 2 of 4×4-region soft colour histograms (√-normalised: the mean Bhattacharyya coefficient; 1 = unchanged)',
    'VBench background_consistency (CLIP ViT-B/32 features), LV-Bench VDE Background; here a colour-layout descriptor',
    colourLayout,
  );
}

/**
 * Frame metrics of the world-model evaluation (tools/eval/world_eval.ts).
 *
 * Frames are RGB bytes, HWC row-major (the renderer's and the decoder's layout).
 *
 * - {@link psnr}: PSNR over all RGB bytes, peak 255, capped at {@link PSNR_CAP} dB (identical frames).
 * - {@link ssim}: SSIM of the frames' luma (Y = 0.299 R + 0.587 G + 0.114 B, not rounded) as
 *   Wang et al. 2004: an 11×11 Gaussian window of σ 1.5 (normalized), K1 = 0.01, K2 = 0.03,
 *   L = 255, population (not sample) statistics, averaged over the valid region (windows that
 *   fit inside the frame). Equals skimage's `structural_similarity(gaussian_weights=True,
 *   sigma=1.5, use_sample_covariance=False, data_range=255)` on the luma.
 * - {@link clarity}: a no-reference sharpness measure: the mean Sobel gradient magnitude of the
 *   luma over the interior pixels.
 * - {@link laplacianVariance} / {@link tenengrad}: the classical focus measures (variance of the
 *   Laplacian, Pech-Pacheco et al. 2000; mean squared Sobel gradient, Tenenbaum 1970).
 * - {@link vde}: Video Drift Error of LV-Bench (BlockVid): chunk metrics m_1..m_N →
 *   Σ_{i=2..N} w_i |m_i − m_1| / m_1 with w_i = N − i + 1 (or ln(N − i + 1)); {@link splitChunks}
 *   cuts a video into the N equal chunks it is computed over (the remainder trimmed).
 * - {@link lightingFeatures} / {@link nearestCentroid}: the lighting classifier (mean RGB of the
 *   top third and of the bottom two-thirds of a frame, nearest centroid).
 */

/** PSNR of identical frames (and the ceiling of any PSNR). */
export const PSNR_CAP = 100;

/** SSIM window: size, Gaussian σ and constants (Wang et al. 2004). */
export const SSIM_WINDOW = 11;
export const SSIM_SIGMA = 1.5;
export const SSIM_K1 = 0.01;
export const SSIM_K2 = 0.03;
export const SSIM_L = 255;

function checkPair(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new Error(`frames differ in size: ${a.length} vs ${b.length} values`);
  if (a.length === 0) throw new Error('empty frame');
}

/** Mean squared error over all values. */
export function mse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkPair(a, b);
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
  }
  return s / a.length;
}

/** PSNR in dB of two byte frames (peak 255), capped at {@link PSNR_CAP}. */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const e = mse(a, b);
  if (e === 0) return PSNR_CAP;
  return Math.min(PSNR_CAP, 10 * Math.log10((255 * 255) / e));
}

function checkFrame(rgb: ArrayLike<number>, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new Error(`bad frame size ${width}×${height}`);
  if (rgb.length !== width * height * 3) throw new Error(`frame has ${rgb.length} bytes, expected ${width}×${height}×3 = ${width * height * 3}`);
}

/** Luma Y = 0.299 R + 0.587 G + 0.114 B of an RGB frame (floats, not rounded). */
export function luma(rgb: ArrayLike<number>, width: number, height: number): Float64Array {
  checkFrame(rgb, width, height);
  const n = width * height;
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = 0.299 * rgb[3 * i]! + 0.587 * rgb[3 * i + 1]! + 0.114 * rgb[3 * i + 2]!;
  return y;
}

/** A normalized 1-D Gaussian of `size` taps (the 2-D window is its outer product). */
export function gaussian1d(size = SSIM_WINDOW, sigma = SSIM_SIGMA): Float64Array {
  const g = new Float64Array(size);
  const c = (size - 1) / 2;
  let s = 0;
  for (let i = 0; i < size; i++) s += g[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma));
  for (let i = 0; i < size; i++) g[i]! /= s;
  return g;
}

/** Separable 'valid' correlation of an image with the window g ⊗ g: (h−k+1) × (w−k+1). */
function filterValid(src: Float64Array, width: number, height: number, g: Float64Array): Float64Array {
  const k = g.length;
  const ow = width - k + 1;
  const oh = height - k + 1;
  const tmp = new Float64Array(height * ow);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += g[t]! * src[row + x + t]!;
      tmp[y * ow + x] = s;
    }
  }
  const out = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += g[t]! * tmp[(y + t) * ow + x]!;
      out[y * ow + x] = s;
    }
  }
  return out;
}

/** Mean SSIM of two single-channel images (values in [0, 255]) over the valid region. */
export function ssimGray(x: Float64Array, y: Float64Array, width: number, height: number): number {
  checkPair(x, y);
  if (x.length !== width * height) throw new Error(`image has ${x.length} values, expected ${width}×${height}`);
  if (width < SSIM_WINDOW || height < SSIM_WINDOW) throw new Error(`SSIM needs frames of at least ${SSIM_WINDOW}×${SSIM_WINDOW} (got ${width}×${height})`);
  const g = gaussian1d();
  const n = x.length;
  const xx = new Float64Array(n);
  const yy = new Float64Array(n);
  const xy = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xx[i] = x[i]! * x[i]!;
    yy[i] = y[i]! * y[i]!;
    xy[i] = x[i]! * y[i]!;
  }
  const mx = filterValid(x, width, height, g);
  const my = filterValid(y, width, height, g);
  const mxx = filterValid(xx, width, height, g);
  const myy = filterValid(yy, width, height, g);
  const mxy = filterValid(xy, width, height, g);
  const c1 = (SSIM_K1 * SSIM_L) ** 2;
  const c2 = (SSIM_K2 * SSIM_L) ** 2;
  let s = 0;
  for (let i = 0; i < mx.length; i++) {
    const ux = mx[i]!;
    const uy = my[i]!;
    const vx = mxx[i]! - ux * ux;
    const vy = myy[i]! - uy * uy;
    const cxy = mxy[i]! - ux * uy;
    s += ((2 * ux * uy + c1) * (2 * cxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
  }
  return s / mx.length;
}

/** SSIM of two RGB byte frames, on their luma. */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, width: number, height: number): number {
  return ssimGray(luma(a, width, height), luma(b, width, height), width, height);
}

/** Mean Sobel gradient magnitude of the luma over the interior pixels (a no-reference sharpness). */
export function clarity(rgb: ArrayLike<number>, width: number, height: number): number {
  return meanSobel(luma3(rgb, width, height, 'clarity'), width, height, Math.hypot);
}

/** The mean over the interior pixels of f(gx, gy), the 3×3 Sobel gradients of the luma y. */
function meanSobel(y: Float64Array, width: number, height: number, f: (gx: number, gy: number) => number): number {
  let s = 0;
  for (let r = 1; r < height - 1; r++) {
    for (let c = 1; c < width - 1; c++) {
      const i = r * width + c;
      const gx = y[i - width + 1]! + 2 * y[i + 1]! + y[i + width + 1]! - y[i - width - 1]! - 2 * y[i - 1]! - y[i + width - 1]!;
      const gy = y[i + width - 1]! + 2 * y[i + width]! + y[i + width + 1]! - y[i - width - 1]! - 2 * y[i - width]! - y[i - width + 1]!;
      s += f(gx, gy);
    }
  }
  return s / ((width - 2) * (height - 2));
}

/** Luma of a frame, checked to be at least 3×3 (the 3×3 stencils' interior is then non-empty). */
function luma3(rgb: ArrayLike<number>, width: number, height: number, what: string): Float64Array {
  const y = luma(rgb, width, height);
  if (width < 3 || height < 3) throw new Error(`${what} needs frames of at least 3×3 (got ${width}×${height})`);
  return y;
}

/**
 * Variance of the Laplacian (4-neighbour stencil [0 1 0; 1 −4 1; 0 1 0]) of the luma over the
 * interior pixels: the classical focus measure (Pech-Pacheco et al. 2000); falls fast with blur.
 */
export function laplacianVariance(rgb: ArrayLike<number>, width: number, height: number): number {
  const y = luma3(rgb, width, height, 'laplacianVariance');
  let s = 0;
  let s2 = 0;
  for (let r = 1; r < height - 1; r++) {
    for (let c = 1; c < width - 1; c++) {
      const i = r * width + c;
      const l = y[i - width]! + y[i + width]! + y[i - 1]! + y[i + 1]! - 4 * y[i]!;
      s += l;
      s2 += l * l;
    }
  }
  const n = (width - 2) * (height - 2);
  return Math.max(0, s2 / n - (s / n) ** 2);
}

/** Tenengrad: the mean squared Sobel gradient magnitude (gx² + gy²) of the luma over the interior pixels. */
export function tenengrad(rgb: ArrayLike<number>, width: number, height: number): number {
  return meanSobel(luma3(rgb, width, height, 'tenengrad'), width, height, (gx, gy) => gx * gx + gy * gy);
}

/** How VDE weights chunk i of N: 'linear' w_i = N − i + 1 (the default), 'log' w_i = ln(N − i + 1). */
export type VdeWeighting = 'linear' | 'log';

/** LV-Bench's default chunk count (`N_CHUNKS = 10` in Inferix's LV-Bench/vde.py). */
export const VDE_CHUNKS = 10;

/** The weights w_2..w_N of an N-chunk VDE (index 0 is chunk 2). */
export function vdeWeights(n: number, weighting: VdeWeighting = 'linear'): number[] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`VDE needs a positive whole number of chunks (got ${n})`);
  if (weighting !== 'linear' && weighting !== 'log') throw new Error(`unknown VDE weighting "${String(weighting)}" (use 'linear' or 'log')`);
  const w: number[] = [];
  for (let i = 2; i <= n; i++) w.push(weighting === 'linear' ? n - i + 1 : Math.log(n - i + 1));
  return w;
}

/**
 * Video Drift Error (LV-Bench) over the per-chunk metric values m_1..m_N:
 * `Σ_{i=2..N} w_i · |m_i − m_1| / m_1`, w from {@link vdeWeights}; not normalised by Σ w.
 *
 * This is `vde()` of alibaba-damo-academy/Inferix, LV-Bench/vde.py (BlockVid's published
 * code): N < 2 gives 0; the division is by m_1 itself (not |m_1|), so a negative m_1 gives a
 * negative VDE there too; the 'log' weighting gives the last chunk weight ln 1 = 0. Two
 * deliberate differences: where upstream returns +inf for m_1 = 0 this throws (a drift relative
 * to nothing is an error, not a score), as it does for a non-finite m_1 or m_i; and the sums run
 * in float64 (upstream: float32 tensors, so its figures agree to ~1e-7 relative).
 */
export function vde(chunks: readonly number[], weighting: VdeWeighting = 'linear'): number {
  const n = chunks.length;
  if (n === 0) throw new Error('VDE of no chunks');
  const w = vdeWeights(n, weighting);
  const m1 = chunks[0]!;
  if (m1 === 0 || !Number.isFinite(m1)) throw new Error(`VDE needs a finite non-zero first chunk (got m_1 = ${m1})`);
  let s = 0;
  for (let i = 2; i <= n; i++) {
    const m = chunks[i - 1]!;
    if (!Number.isFinite(m)) throw new Error(`VDE: chunk ${i} has a non-finite value (${m})`);
    s += w[i - 2]! * (Math.abs(m - m1) / m1);
  }
  return s;
}

/**
 * The N equal chunks LV-Bench scores a video in: `floor(T / N)` frames each, the last
 * `T mod N` frames trimmed (LV-Bench/vde.py: `trimmed_len = frames_per_chunk * n_chunks`, then
 * `torch.chunk`). Upstream skips a video shorter than N frames; this throws for it.
 */
export function splitChunks<T>(frames: readonly T[], n: number = VDE_CHUNKS): T[][] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`chunk count must be a positive whole number (got ${n})`);
  if (frames.length < n) throw new Error(`a video of ${frames.length} frames is too short to split into ${n} chunks`);
  const per = Math.floor(frames.length / n);
  return Array.from({ length: n }, (_, i) => frames.slice(i * per, (i + 1) * per));
}

/** Lighting features: mean R, G, B of the top third of the rows, then of the bottom two-thirds. */
export function lightingFeatures(rgb: ArrayLike<number>, width: number, height: number): number[] {
  checkFrame(rgb, width, height);
  if (height < 3) throw new Error('lighting features need at least 3 rows');
  const split = Math.round(height / 3);
  const f = [0, 0, 0, 0, 0, 0];
  for (let r = 0; r < height; r++) {
    const o = r < split ? 0 : 3;
    for (let c = 0; c < width; c++) {
      const i = 3 * (r * width + c);
      f[o]! += rgb[i]!;
      f[o + 1]! += rgb[i + 1]!;
      f[o + 2]! += rgb[i + 2]!;
    }
  }
  const top = split * width;
  const bottom = (height - split) * width;
  return f.map((v, k) => v / (k < 3 ? top : bottom));
}

/** Index of the centroid nearest (Euclidean) to `f`; null centroids (no samples) are skipped. */
export function nearestCentroid(f: readonly number[], centroids: readonly (readonly number[] | null)[]): number {
  let best = -1;
  let bestD = Infinity;
  centroids.forEach((c, k) => {
    if (!c) return;
    let d = 0;
    for (let i = 0; i < f.length; i++) d += (f[i]! - c[i]!) ** 2;
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  });
  if (best < 0) throw new Error('no centroids');
  return best;
}

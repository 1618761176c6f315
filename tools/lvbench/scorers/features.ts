/**
 * Classical per-frame features for the consistency scorers (consistency.ts), standing in for
 * VBench's DINO (subject) and CLIP (background) embeddings. Both work on the frame resized so
 * its shorter side is {@link FEATURE_SIDE} pixels (area resampling), as VBench resizes to 224.
 *
 * - {@link hog}: histograms of oriented gradients (Dalal & Triggs 2005): luma gradients by the
 *   centred [−1, 0, 1] difference, unsigned orientation in 9 bins of 20° (each pixel's magnitude
 *   split linearly between the two nearest bin centres), 8×8-pixel cells, 2×2-cell blocks at a
 *   stride of one cell, each block L2-Hys normalised (L2, clip at 0.2, L2 again). It describes the
 *   shapes in the frame — what the objects are and where their edges run — and not their colour
 *   or brightness: the "subject" side.
 * - {@link colourLayout}: the frame's colour layout: a 4×4 grid of regions, in each a soft RGB
 *   histogram of 4×4×4 bins (each pixel's vote split trilinearly between the nearest bin centres),
 *   normalised to sum 1, square-rooted. The cosine of two such vectors is the mean over the 16
 *   regions of the Bhattacharyya coefficient of their colour distributions: the scene's colours
 *   and where they are (sky, ground, walls, lighting) — the "background" side.
 */
import { luma } from '../../eval/metrics.js';

/** Shorter side of the frames features are computed on. */
export const FEATURE_SIDE = 128;

/** Area-resampling weights of one axis: for each output index, (input index, weight) pairs summing to 1. */
function areaWeights(inSize: number, outSize: number): { idx: number[]; w: number[] }[] {
  const scale = inSize / outSize;
  return Array.from({ length: outSize }, (_, o) => {
    const lo = o * scale;
    const hi = (o + 1) * scale;
    const idx: number[] = [];
    const w: number[] = [];
    for (let i = Math.floor(lo); i < Math.min(inSize, Math.ceil(hi - 1e-12)); i++) {
      const cover = Math.min(hi, i + 1) - Math.max(lo, i);
      if (cover > 1e-12) {
        idx.push(i);
        w.push(cover / scale);
      }
    }
    return { idx, w };
  });
}

/** A frame (channels interleaved, Float64) resized by area resampling; identity when the size is unchanged. */
export function resizeArea(src: ArrayLike<number>, w: number, h: number, channels: number, ow: number, oh: number): Float64Array {
  if (ow === w && oh === h) return Float64Array.from(src);
  const wx = areaWeights(w, ow);
  const wy = areaWeights(h, oh);
  const tmp = new Float64Array(h * ow * channels);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < ow; x++) {
      const { idx, w: ws } = wx[x]!;
      for (let c = 0; c < channels; c++) {
        let s = 0;
        for (let k = 0; k < idx.length; k++) s += ws[k]! * src[(y * w + idx[k]!) * channels + c]!;
        tmp[(y * ow + x) * channels + c] = s;
      }
    }
  const out = new Float64Array(oh * ow * channels);
  for (let y = 0; y < oh; y++) {
    const { idx, w: ws } = wy[y]!;
    for (let x = 0; x < ow; x++)
      for (let c = 0; c < channels; c++) {
        let s = 0;
        for (let k = 0; k < idx.length; k++) s += ws[k]! * tmp[(idx[k]! * ow + x) * channels + c]!;
        out[(y * ow + x) * channels + c] = s;
      }
  }
  return out;
}

/** Output size with the shorter side = side (aspect kept, at least 1 pixel). */
export function featureSize(w: number, h: number, side = FEATURE_SIDE): [number, number] {
  const s = side / Math.min(w, h);
  return [Math.max(1, Math.round(w * s)), Math.max(1, Math.round(h * s))];
}

export const HOG_CELL = 8;
export const HOG_BINS = 9;
const HOG_CLIP = 0.2;
const HOG_EPS = 1e-3;

function l2hys(v: Float64Array): void {
  const norm = (): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0) + HOG_EPS * HOG_EPS);
  let n = norm();
  for (let i = 0; i < v.length; i++) v[i] = Math.min(HOG_CLIP, v[i]! / n);
  n = norm();
  for (let i = 0; i < v.length; i++) v[i]! /= n;
}

/** HOG descriptor of an RGB frame (see the module comment); length = blocks × 36. */
export function hog(rgb: Uint8Array, width: number, height: number, side = FEATURE_SIDE): Float64Array {
  const [w, h] = featureSize(width, height, side);
  const y = resizeArea(luma(rgb, width, height), width, height, 1, w, h);
  const cw = Math.floor(w / HOG_CELL);
  const ch = Math.floor(h / HOG_CELL);
  if (cw < 2 || ch < 2) throw new Error(`hog: a ${w}×${h} frame has fewer than 2×2 cells of ${HOG_CELL} px`);
  const cells = new Float64Array(cw * ch * HOG_BINS);
  const at = (r: number, c: number): number => y[Math.min(h - 1, Math.max(0, r)) * w + Math.min(w - 1, Math.max(0, c))]!;
  for (let r = 0; r < ch * HOG_CELL; r++) {
    for (let c = 0; c < cw * HOG_CELL; c++) {
      const gx = at(r, c + 1) - at(r, c - 1);
      const gy = at(r + 1, c) - at(r - 1, c);
      const mag = Math.hypot(gx, gy);
      if (mag === 0) continue;
      let ang = (Math.atan2(gy, gx) * 180) / Math.PI;
      if (ang < 0) ang += 180;
      if (ang >= 180) ang -= 180;
      const pos = ang / (180 / HOG_BINS) - 0.5;
      const b0 = Math.floor(pos);
      const f = pos - b0;
      const cell = (Math.floor(r / HOG_CELL) * cw + Math.floor(c / HOG_CELL)) * HOG_BINS;
      cells[cell + ((b0 + HOG_BINS) % HOG_BINS)]! += mag * (1 - f);
      cells[cell + ((b0 + 1) % HOG_BINS)]! += mag * f;
    }
  }
  const bw = cw - 1;
  const bh = ch - 1;
  const out = new Float64Array(bw * bh * 4 * HOG_BINS);
  const blk = new Float64Array(4 * HOG_BINS);
  for (let br = 0; br < bh; br++)
    for (let bc = 0; bc < bw; bc++) {
      let k = 0;
      for (const [dr, dc] of [
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
      ] as const)
        for (let b = 0; b < HOG_BINS; b++) blk[k++] = cells[((br + dr) * cw + bc + dc) * HOG_BINS + b]!;
      l2hys(blk);
      out.set(blk, (br * bw + bc) * 4 * HOG_BINS);
    }
  return out;
}

export const LAYOUT_GRID = 4;
export const LAYOUT_BINS = 4;

/** Colour-layout descriptor of an RGB frame (see the module comment); length 4·4·64 = 1024. */
export function colourLayout(rgb: Uint8Array, width: number, height: number, side = FEATURE_SIDE): Float64Array {
  const [w, h] = featureSize(width, height, side);
  const img = resizeArea(rgb, width, height, 3, w, h);
  const G = LAYOUT_GRID;
  const nb = LAYOUT_BINS;
  const per = nb * nb * nb;
  const out = new Float64Array(G * G * per);
  const lo = new Int32Array(3);
  const fr = new Float64Array(3);
  for (let r = 0; r < h; r++) {
    const gr = Math.min(G - 1, Math.floor((r * G) / h));
    for (let c = 0; c < w; c++) {
      const gc = Math.min(G - 1, Math.floor((c * G) / w));
      const base = (gr * G + gc) * per;
      const p = 3 * (r * w + c);
      for (let k = 0; k < 3; k++) {
        const u = Math.min(nb - 1, Math.max(0, (img[p + k]! / 255) * nb - 0.5));
        lo[k] = Math.min(nb - 2, Math.floor(u));
        fr[k] = u - lo[k]!;
      }
      for (let m = 0; m < 8; m++) {
        const i0 = lo[0]! + (m & 1);
        const i1 = lo[1]! + ((m >> 1) & 1);
        const i2 = lo[2]! + ((m >> 2) & 1);
        const wgt = (m & 1 ? fr[0]! : 1 - fr[0]!) * ((m >> 1) & 1 ? fr[1]! : 1 - fr[1]!) * ((m >> 2) & 1 ? fr[2]! : 1 - fr[2]!);
        out[base + (i0 * nb + i1) * nb + i2]! += wgt;
      }
    }
  }
  for (let g = 0; g < G * G; g++) {
    let s = 0;
    for (let i = 0; i < per; i++) s += out[g * per + i]!;
    for (let i = 0; i < per; i++) out[g * per + i] = s > 0 ? Math.sqrt(out[g * per + i]! / s) : 0;
  }
  return out;
}

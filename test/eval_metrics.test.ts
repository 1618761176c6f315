import { describe, expect, it } from 'vitest';

import {
  PSNR_CAP,
  SSIM_K1,
  SSIM_K2,
  EDGE_PERCENTILE,
  clarity,
  edgeF1,
  edgeMap,
  gaussian1d,
  hfRatio,
  laplacianRms,
  lightingFeatures,
  luma,
  nearestCentroid,
  percentile,
  psnr,
  sharpness,
  ssim,
  ssimGray,
  vde,
} from '../tools/eval/metrics.js';

/** A gray frame as RGB bytes (R = G = B). */
function grayRgb(v: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(v.length * 3);
  for (let i = 0; i < v.length; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = v[i]!;
  return out;
}

// The deterministic 20×16 patterns of the reference values (computed with scipy:
// gaussian_filter(σ 1.5, truncate 3.5), cropped by 5 = the valid region; ndimage.sobel).
const W = 20;
const H = 16;
function pattern(f: (r: number, c: number) => number): Float64Array {
  const out = new Float64Array(W * H);
  for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) out[r * W + c] = f(r, c);
  return out;
}
const X = pattern((r, c) => (r * 7 + c * 13 + ((r * c) % 5) * 17) % 256);
const Y = pattern((r, c) => Math.min(255, Math.max(0, X[r * W + c]! + (((r * 3 + c * 5) % 11) - 5) * 4)));
const Z = pattern((r, c) => (r * c * 3 + c * c + 40) % 256);

/** Deterministic noise in [-amp, amp] added to a frame, clamped to bytes. */
function noisy(src: Uint8Array, amp: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = Math.min(255, Math.max(0, src[i]! + Math.round(((s / 2 ** 32) * 2 - 1) * amp)));
  }
  return out;
}

/** A smooth 64×48 RGB test frame. */
const FW = 64;
const FH = 48;
const frame = (() => {
  const f = new Uint8Array(FW * FH * 3);
  for (let r = 0; r < FH; r++)
    for (let c = 0; c < FW; c++) {
      const i = 3 * (r * FW + c);
      f[i] = (r * 5) % 256;
      f[i + 1] = (c * 4) % 256;
      f[i + 2] = 128 + Math.round(60 * Math.sin(r / 5 + c / 7));
    }
  return f;
})();

describe('eval metrics: PSNR', () => {
  it('is capped for identical frames', () => {
    expect(psnr(frame, frame)).toBe(PSNR_CAP);
  });
  it('is 20·log10(255) for an error of 1 everywhere', () => {
    const b = frame.map((v) => (v < 255 ? v + 1 : v - 1));
    expect(psnr(frame, b)).toBeCloseTo(20 * Math.log10(255), 10);
  });
  it('is 0 dB between black and white', () => {
    expect(psnr(new Uint8Array(12), new Uint8Array(12).fill(255))).toBeCloseTo(0, 12);
  });
  it('matches the reference value', () => {
    expect(psnr(X, Y)).toBeCloseTo(26.272196136418174, 10);
  });
  it('rejects frames of different sizes', () => {
    expect(() => psnr(new Uint8Array(3), new Uint8Array(6))).toThrow(/differ/);
  });
});

describe('eval metrics: SSIM', () => {
  it('uses a normalized 11-tap Gaussian window', () => {
    const g = gaussian1d();
    expect(g.length).toBe(11);
    expect(g.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
    expect(g[5]! / g[4]!).toBeCloseTo(Math.exp(1 / (2 * 1.5 * 1.5)), 12);
  });
  it('is 1 for identical frames', () => {
    expect(ssim(frame, frame, FW, FH)).toBeCloseTo(1, 12);
  });
  it('of two constant frames is (2ab + C1) / (a² + b² + C1)', () => {
    const c1 = (SSIM_K1 * 255) ** 2;
    const a = 100;
    const b = 140;
    const s = ssim(grayRgb(new Uint8Array(16 * 12).fill(a)), grayRgb(new Uint8Array(16 * 12).fill(b)), 16, 12);
    expect(s).toBeCloseTo((2 * a * b + c1) / (a * a + b * b + c1), 12);
    expect(SSIM_K2).toBe(0.03);
  });
  it('matches the reference values (scipy, valid region)', () => {
    expect(ssimGray(X, Y, W, H)).toBeCloseTo(0.9684177907198265, 10);
    expect(ssimGray(X, Z, W, H)).toBeCloseTo(-0.03634456435960479, 10);
    // Through the RGB path: gray pixels have luma = the gray value.
    expect(ssim(grayRgb(X), grayRgb(Y), W, H)).toBeCloseTo(0.9684177907198265, 9);
  });
  it('is symmetric', () => {
    const b = noisy(frame, 40, 7);
    expect(ssim(frame, b, FW, FH)).toBeCloseTo(ssim(b, frame, FW, FH), 12);
    expect(ssimGray(X, Z, W, H)).toBeCloseTo(ssimGray(Z, X, W, H), 12);
  });
  it('needs frames of at least the window size', () => {
    expect(() => ssim(new Uint8Array(10 * 10 * 3), new Uint8Array(10 * 10 * 3), 10, 10)).toThrow(/at least 11/);
  });
  it('computes luma with BT.601 weights', () => {
    expect([...luma(new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255]), 3, 1)].map((v) => +v.toFixed(3))).toEqual([76.245, 149.685, 29.07]);
  });
});

describe('eval metrics: noise', () => {
  it('lowers PSNR and SSIM monotonically', () => {
    const small = noisy(frame, 10, 1);
    const large = noisy(frame, 60, 1);
    expect(psnr(frame, small)).toBeLessThan(PSNR_CAP);
    expect(psnr(frame, large)).toBeLessThan(psnr(frame, small));
    expect(ssim(frame, small, FW, FH)).toBeLessThan(1);
    expect(ssim(frame, large, FW, FH)).toBeLessThan(ssim(frame, small, FW, FH));
  });
  it('raises clarity; a constant frame has none', () => {
    expect(clarity(grayRgb(new Uint8Array(8 * 8).fill(90)), 8, 8)).toBe(0);
    expect(clarity(noisy(frame, 60, 3), FW, FH)).toBeGreaterThan(clarity(frame, FW, FH));
    expect(clarity(grayRgb(X), W, H)).toBeCloseTo(269.52667239515887, 9);
  });
});

describe('eval metrics: VDE', () => {
  it('is 0 without drift and for one chunk', () => {
    expect(vde([5, 5, 5, 5])).toBe(0);
    expect(vde([3])).toBe(0);
  });
  it('weights early chunks more: Σ (N − i + 1) |m_i − m_1| / m_1', () => {
    // N = 4: weights 3, 2, 1 for chunks 2, 3, 4.
    expect(vde([10, 9, 8, 12])).toBeCloseTo(3 * 0.1 + 2 * 0.2 + 1 * 0.2, 12);
    expect(vde([10, 11, 10])).toBeCloseTo(2 * 0.1, 12);
    // The same deviation counts more the earlier it appears.
    expect(vde([10, 5, 10, 10])).toBeGreaterThan(vde([10, 10, 10, 5]));
  });
  it('is relative to the first chunk', () => {
    expect(vde([20, 18, 16])).toBeCloseTo(vde([10, 9, 8]), 12);
  });
  it('rejects a zero first chunk', () => {
    expect(() => vde([0, 1])).toThrow(/non-zero/);
  });
});

describe('eval metrics: lighting classifier', () => {
  it('averages the top third and the bottom two-thirds', () => {
    // 2×6 frame: rows 0-1 red-ish (top third), rows 2-5 blue.
    const f = new Uint8Array(2 * 6 * 3);
    for (let r = 0; r < 6; r++)
      for (let c = 0; c < 2; c++) f.set(r < 2 ? [200, 10, 20] : [0, 30, 250], 3 * (r * 2 + c));
    expect(lightingFeatures(f, 2, 6)).toEqual([200, 10, 20, 0, 30, 250]);
  });
  it('picks the nearest centroid, skipping missing ones', () => {
    const cents = [[0, 0, 0, 0, 0, 0], null, [100, 100, 100, 100, 100, 100]];
    expect(nearestCentroid([10, 10, 10, 10, 10, 10], cents)).toBe(0);
    expect(nearestCentroid([60, 60, 60, 60, 60, 60], cents)).toBe(2);
  });
});

// ------------------------------------------------------------------ sharpness (issue 19)

/** A 48×40 gray frame: a smooth wave, four bars of rising contrast, a box and a triangle (hard edges). */
const SW = 48;
const SH = 40;
function shapes(dx = 0, dy = 0): Uint8Array {
  const v = new Uint8Array(SW * SH);
  for (let r = 0; r < SH; r++)
    for (let c = 0; c < SW; c++) {
      const x = c - dx;
      const y = r - dy;
      let g = 90 + 30 * Math.sin(x / 4) * Math.cos(y / 5);
      for (let i = 0; i < 4; i++) if (x >= 3 + 5 * i && x < 5 + 5 * i && y >= 4 && y < 34) g = 90 + 35 * (i + 1);
      if (x >= 24 && x < 38 && y >= 10 && y < 26) g = 140;
      if (y >= 28 && y < 36 && x < 44 && x + y > 60) g = 230;
      v[r * SW + c] = Math.round(g);
    }
  return grayRgb(v);
}
/** A separable [1 2 1]/4 blur applied `n` times (edges clamped), on an RGB frame. */
function blur(rgb: Uint8Array, w: number, h: number, n: number): Uint8Array {
  let cur = Float64Array.from(rgb);
  for (let k = 0; k < n; k++) {
    const tmp = new Float64Array(cur.length);
    const out = new Float64Array(cur.length);
    const at = (a: Float64Array, r: number, c: number, ch: number) => a[3 * (Math.min(h - 1, Math.max(0, r)) * w + Math.min(w - 1, Math.max(0, c))) + ch]!;
    for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) for (let ch = 0; ch < 3; ch++) tmp[3 * (r * w + c) + ch] = (at(cur, r, c - 1, ch) + 2 * at(cur, r, c, ch) + at(cur, r, c + 1, ch)) / 4;
    for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) for (let ch = 0; ch < 3; ch++) out[3 * (r * w + c) + ch] = (at(tmp, r - 1, c, ch) + 2 * at(tmp, r, c, ch) + at(tmp, r + 1, c, ch)) / 4;
    cur = out;
  }
  return Uint8Array.from(cur, (x) => Math.round(x));
}

describe('eval metrics: high-frequency energy (RMS of the Laplacian)', () => {
  it('is 0 for a flat frame and for a linear ramp', () => {
    expect(laplacianRms(grayRgb(new Uint8Array(64).fill(77)), 8, 8)).toBe(0);
    expect(laplacianRms(grayRgb(Uint8Array.from({ length: 64 }, (_, i) => 10 * (i % 8) + 3 * Math.floor(i / 8))), 8, 8)).toBeCloseTo(0, 9);
  });
  it('is the RMS over the interior of the 4-neighbour Laplacian of the luma', () => {
    // one bright pixel of 100 in the middle of a 5×5 zero frame: the Laplacian is −400 there, 100 at its 4 neighbours, 0 elsewhere (9 interior pixels)
    const v = new Uint8Array(25);
    v[12] = 100;
    expect(laplacianRms(grayRgb(v), 5, 5)).toBeCloseTo(Math.sqrt((400 ** 2 + 4 * 100 ** 2) / 9), 9);
  });
  it('a blurred frame has less of it than the truth: the ratio falls with the blur', () => {
    const t = shapes();
    expect(hfRatio(t, t, SW, SH)).toBe(1);
    const r1 = hfRatio(blur(t, SW, SH, 1), t, SW, SH);
    const r3 = hfRatio(blur(t, SW, SH, 3), t, SW, SH);
    expect(r1).toBeLessThan(0.8);
    expect(r3).toBeLessThan(r1);
    expect(hfRatio(noisy(t, 40, 5), t, SW, SH)).toBeGreaterThan(1.3); // noise is high-frequency energy too
  });
  it('is scaled by the contrast, and 1 when neither frame has any', () => {
    const lo = grayRgb(Uint8Array.from({ length: 100 }, (_, i) => (i % 3 === 0 ? 40 : 0)));
    const hi = grayRgb(Uint8Array.from({ length: 100 }, (_, i) => (i % 3 === 0 ? 80 : 0)));
    expect(hfRatio(lo, hi, 10, 10)).toBeCloseTo(0.5, 9);
    const flat = grayRgb(new Uint8Array(100).fill(9));
    expect(hfRatio(flat, flat, 10, 10)).toBe(1);
    expect(hfRatio(hi, flat, 10, 10)).toBe(Infinity);
  });
});

describe('eval metrics: edge F1', () => {
  it('takes percentiles as numpy does (linear between order statistics)', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([5, 1, 3], 100)).toBe(5);
    expect(percentile([0, 10], 88)).toBeCloseTo(8.8, 12);
    expect(() => percentile([], 50)).toThrow(/no values/);
  });
  it('edges are the pixels at or above the 88th percentile of the Sobel magnitude; a flat frame has none', () => {
    const t = shapes();
    const e = edgeMap(t, SW, SH);
    expect(e.count).toBeGreaterThan(0);
    expect(e.count).toBeLessThanOrEqual(Math.ceil((1 - EDGE_PERCENTILE / 100) * (SW - 2) * (SH - 2)) + 200); // ties at the threshold may add some
    expect(edgeMap(grayRgb(new Uint8Array(64).fill(5)), 8, 8).count).toBe(0);
    // a single vertical step: the edge pixels are the two columns either side of it, and nothing else
    const step = grayRgb(Uint8Array.from({ length: 20 * 10 }, (_, i) => (i % 20 < 10 ? 0 : 100)));
    const s = edgeMap(step, 20, 10);
    for (let r = 1; r < 9; r++) for (let c = 1; c < 19; c++) expect(s.mask[r * 20 + c]).toBe(c === 9 || c === 10 ? 1 : 0);
  });
  it('is 1 for the truth itself and for the truth shifted by one pixel (matched within 1 px)', () => {
    const t = shapes();
    expect(edgeF1(t, t, SW, SH).f1).toBe(1);
    for (const [dx, dy] of [[1, 0], [0, 1], [-1, 0], [1, 1]] as const) {
      const e = edgeF1(shapes(dx, dy), t, SW, SH);
      expect(e.precision).toBe(1);
      expect(e.recall).toBe(1);
      expect(e.f1).toBe(1);
    }
  });
  it('drops for a shift of 3 px, and with tolerance 0 for a shift of 1 px', () => {
    const t = shapes();
    expect(edgeF1(shapes(3, 3), t, SW, SH).f1).toBeLessThan(0.5);
    expect(edgeF1(shapes(1, 0), t, SW, SH, { tolerance: 0 }).f1).toBeLessThan(0.7);
  });
  it('is lower for a blurred frame: its gradients no longer reach the truth’s threshold', () => {
    const t = shapes();
    const b1 = edgeF1(blur(t, SW, SH, 1), t, SW, SH);
    const b3 = edgeF1(blur(t, SW, SH, 3), t, SW, SH);
    expect(b1.precision).toBe(1); // what is left of the edges is where the truth's are
    expect(b1.recall).toBeLessThan(0.5);
    expect(b1.f1).toBeLessThan(0.6);
    expect(b3.f1).toBeLessThanOrEqual(b1.f1);
    // at its own percentile the blurred frame keeps ~12% of its pixels as edges: wider than the truth's, so it loses precision
    expect(edgeF1(blur(t, SW, SH, 1), t, SW, SH, { modelThreshold: 'own' }).precision).toBeLessThan(1);
  });
  it('the model frame at its own percentile: a fainter but sharp frame keeps its edges; at the truth’s threshold it loses them', () => {
    const t = shapes();
    const faint = Uint8Array.from(t, (v) => Math.round(v * 0.3));
    expect(edgeF1(faint, t, SW, SH, { modelThreshold: 'own' }).f1).toBe(1);
    expect(edgeF1(faint, t, SW, SH).f1).toBeLessThan(0.5);
  });
  it('F1 = 2PR / (P + R) of the matched edge pixels both ways', () => {
    const t = shapes();
    const m = noisy(blur(t, SW, SH, 1), 90, 9);
    const e = edgeF1(m, t, SW, SH);
    expect(e.f1).toBeCloseTo((2 * e.precision * e.recall) / (e.precision + e.recall), 12);
    expect(e.precision).toBeLessThan(1); // noise adds edges where the truth has none
    // no edges in the model frame: recall 0, F1 0; none in either: 1
    const flat = grayRgb(new Uint8Array(SW * SH).fill(60));
    expect(edgeF1(flat, t, SW, SH)).toMatchObject({ recall: 0, f1: 0, modelEdges: 0 });
    expect(edgeF1(flat, flat, SW, SH).f1).toBe(1);
  });
  it('sharpness() gives both measures', () => {
    const t = shapes();
    const b = blur(t, SW, SH, 2);
    const s = sharpness(b, t, SW, SH);
    expect(s.hfModel / s.hfTruth).toBeCloseTo(hfRatio(b, t, SW, SH), 12);
    expect(s.edge).toEqual(edgeF1(b, t, SW, SH));
    expect(s.edgeOwn).toEqual(edgeF1(b, t, SW, SH, { modelThreshold: 'own' }));
  });
});

import { describe, expect, it } from 'vitest';

import {
  PSNR_CAP,
  SSIM_K1,
  SSIM_K2,
  clarity,
  gaussian1d,
  lightingFeatures,
  luma,
  nearestCentroid,
  psnr,
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

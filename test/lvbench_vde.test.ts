// VDE as Inferix's LV-Bench/vde.py computes it, checked against hand-computed cases, with the
// chunking (trim the remainder) and the classical focus measures of the clarity scorer.
import { describe, expect, it } from 'vitest';

import { laplacianVariance, splitChunks, tenengrad, vde, vdeWeights, VDE_CHUNKS } from '../tools/eval/metrics.js';
import { vdeBoth } from '../tools/lvbench/evaluate.js';

describe('VDE weights', () => {
  it('linear: w_i = N − i + 1 for i = 2..N', () => {
    expect(vdeWeights(4)).toEqual([3, 2, 1]);
    expect(vdeWeights(10)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(vdeWeights(1)).toEqual([]);
  });
  it('log: w_i = ln(N − i + 1), the last chunk weighing ln 1 = 0', () => {
    const w = vdeWeights(4, 'log');
    expect(w[0]).toBeCloseTo(Math.log(3), 15);
    expect(w[1]).toBeCloseTo(Math.log(2), 15);
    expect(w[2]).toBe(0);
  });
  it('rejects an unknown weighting and a bad N', () => {
    expect(() => vdeWeights(4, 'square' as 'log')).toThrow(/unknown VDE weighting/);
    expect(() => vdeWeights(0)).toThrow(/positive whole number/);
  });
});

describe('VDE', () => {
  it('is Σ w_i |m_i − m_1| / m_1, not normalised (hand-computed, N = 4)', () => {
    // weights 3, 2, 1; drifts 0.1, 0.2, 0.2
    expect(vde([10, 9, 8, 12])).toBeCloseTo(3 * 0.1 + 2 * 0.2 + 1 * 0.2, 14);
    expect(vde([10, 9, 8, 12], 'linear')).toBeCloseTo(0.9, 14);
    // log: ln 3 · 0.1 + ln 2 · 0.2 + 0 · 0.2 = 0.248491…
    expect(vde([10, 9, 8, 12], 'log')).toBeCloseTo(0.24849066497880004, 14);
  });
  it('weighs the second of ten chunks by 9 (linear) and ln 9 (log)', () => {
    const m = [1, 2, 1, 1, 1, 1, 1, 1, 1, 1];
    expect(vde(m)).toBeCloseTo(9, 14);
    expect(vde(m, 'log')).toBeCloseTo(Math.log(9), 14);
    // the last chunk counts 1 (linear) and nothing (log)
    const last = [1, 1, 1, 1, 1, 1, 1, 1, 1, 3];
    expect(vde(last)).toBeCloseTo(2, 14);
    expect(vde(last, 'log')).toBe(0);
  });
  it('is 0 without drift and for fewer than 2 chunks', () => {
    expect(vde([5, 5, 5, 5])).toBe(0);
    expect(vde([5, 5, 5, 5], 'log')).toBe(0);
    expect(vde([3])).toBe(0);
    expect(vde([3], 'log')).toBe(0);
  });
  it('divides by m_1 itself, as upstream does (a negative m_1 gives a negative VDE)', () => {
    expect(vde([-2, -1])).toBeCloseTo(-0.5, 14);
  });
  it('makes m_1 = 0 an explicit error (upstream returns inf), and a non-finite chunk too', () => {
    expect(() => vde([0, 1, 2])).toThrow(/m_1 = 0/);
    expect(() => vde([NaN, 1])).toThrow(/non-zero/);
    expect(() => vde([1, Infinity])).toThrow(/chunk 2 has a non-finite value/);
    expect(() => vde([])).toThrow(/no chunks/);
    expect(vdeBoth([0, 1])).toEqual({ vde: null, vdeLog: null, error: expect.stringMatching(/m_1 = 0/) });
  });
});

describe('splitChunks', () => {
  it('cuts N equal chunks and trims the remainder at the end', () => {
    const frames = Array.from({ length: 23 }, (_, i) => i);
    const c = splitChunks(frames, 10);
    expect(c).toHaveLength(10);
    expect(c.every((x) => x.length === 2)).toBe(true);
    expect(c[0]).toEqual([0, 1]);
    expect(c[9]).toEqual([18, 19]); // 20, 21, 22 trimmed
    expect(VDE_CHUNKS).toBe(10);
    expect(splitChunks(Array.from({ length: 30 }, (_, i) => i))).toHaveLength(10);
  });
  it('chunk → metric → VDE end to end (hand-computed)', () => {
    // frames 0..22, metric = mean of the chunk's frame values: chunk i (1-based) = 2(i − 1) + 0.5,
    // m_1 = 0.5, drift_i = 4(i − 1); VDE = 4 Σ_{k=1..9} (10 − k) k = 4 · 165 = 660
    const frames = Array.from({ length: 23 }, (_, i) => i);
    const m = splitChunks(frames, 10).map((c) => c.reduce((a, b) => a + b, 0) / c.length);
    expect(m[0]).toBe(0.5);
    expect(vde(m)).toBeCloseTo(660, 10);
    let log = 0;
    for (let k = 1; k <= 9; k++) log += Math.log(10 - k) * 4 * k;
    expect(vde(m, 'log')).toBeCloseTo(log, 10);
  });
  it('refuses a video shorter than N frames', () => {
    expect(() => splitChunks([1, 2, 3], 10)).toThrow(/too short to split into 10 chunks/);
    expect(() => splitChunks([1, 2, 3], 0)).toThrow(/positive whole number/);
  });
});

describe('focus measures', () => {
  // A 4×3 gray frame with one bright pixel at (row 1, col 1); the interior is (1,1) and (1,2).
  const gray = [0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0];
  const rgb = Uint8Array.from(gray.flatMap((v) => [v, v, v]));
  it('variance of the Laplacian (hand-computed)', () => {
    // L(1,1) = −40, L(1,2) = 10 → mean −15, variance 625
    expect(laplacianVariance(rgb, 4, 3)).toBeCloseTo(625, 9);
  });
  it('Tenengrad (hand-computed)', () => {
    // (1,1): gx = gy = 0; (1,2): gx = −20, gy = 0 → mean of 0 and 400
    expect(tenengrad(rgb, 4, 3)).toBeCloseTo(200, 9);
  });
  it('both are 0 on a flat frame and need 3×3', () => {
    const flat = new Uint8Array(5 * 5 * 3).fill(77);
    expect(laplacianVariance(flat, 5, 5)).toBe(0);
    expect(tenengrad(flat, 5, 5)).toBe(0);
    expect(() => tenengrad(new Uint8Array(2 * 2 * 3), 2, 2)).toThrow(/at least 3×3/);
  });
});

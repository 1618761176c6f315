// Every native kernel against its scalar reference (or, for single-implementation
// kernels, the formula written out here), on every SIMD level this CPU has.
import { describe, expect, it } from 'vitest';

import { nativeTesting } from './helpers/native_testing.js';
import { randoms, relErr } from './helpers/fixtures.js';

const T = nativeTesting().testing;
const order = ['scalar', 'avx2', 'avx512'] as const;
const best = T.cpu().best as (typeof order)[number];
const isas = order.slice(0, order.indexOf(best) + 1);

function maxAbs(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('cpu features', () => {
  it('probes the CPU and picks a level it supports', () => {
    const c = T.cpu();
    expect(order).toContain(c.best);
    expect(order.indexOf(c.active as (typeof order)[number])).toBeLessThanOrEqual(order.indexOf(best));
    if (c.best === 'avx512') expect(c.features).toMatch(/avx512f/);
    if (c.best !== 'scalar') expect(c.features).toMatch(/avx2/);
  });
});

describe('gemm (linear: x·Wᵀ + b, epilogue)', () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [3, 7, 5],
    [8, 64, 32],
    [13, 33, 47],
    [97, 130, 65],
    [200, 256, 96],
  ];
  for (const isa of isas)
    for (const [M, K, N] of shapes)
      for (const ep of [0, 1, 2])
        it(`${isa} M=${M} K=${K} N=${N} epilogue=${['none', 'gelu_tanh', 'silu'][ep]}`, () => {
          const x = randoms(M * K, M * 7 + K);
          const W = randoms(N * K, N * 13 + K);
          const b = randoms(N, N);
          const ref = T.gemm(x, M, K, W, N, b, isa, ep, true);
          const got = T.gemm(x, M, K, W, N, b, isa, ep, false);
          // fp32 accumulation of K products of |x|,|w| < 1 against a double reference
          expect(maxAbs(got, ref)).toBeLessThan(1e-6 * Math.sqrt(K) * 4 + 1e-6);
        });
  it('treats a missing bias as zeros', () => {
    const x = randoms(5 * 9, 1);
    const W = randoms(4 * 9, 2);
    expect(maxAbs(T.gemm(x, 5, 9, W, 4, null, null, 0), T.gemm(x, 5, 9, W, 4, new Float32Array(4), null, 0))).toBe(0);
  });
});

describe('gemm weight types: every (isa, weights, path) this CPU has against its reference', () => {
  const types = ['f32', 'bf16', 'int8'] as const;
  // Distinct kernels: the widen paths everywhere, the dot paths (AVX512_BF16 vdpbf16ps,
  // AVX512_VNNI vpdpbusd) and the AMX paths (TDPBF16PS tiles) only where the CPU has them.
  const combos: { isa: string; weights: (typeof types)[number]; dot: boolean | 'amx'; path: string }[] = [];
  for (const isa of isas)
    for (const weights of types)
      for (const dot of [false, true, 'amx'] as const) {
        const path = T.gemmPath(isa, weights, dot);
        if (!combos.some((c) => c.isa === isa && c.path === path)) combos.push({ isa, weights, dot, path });
      }
  // Odd shapes (no tile multiple), M=1, several k-blocks (K=1100), bias-only (K=1), and for
  // the dot paths two activation chunks (K=17000 bounds a chunk to one row block).
  const shapes: [number, number, number][] = [
    [1, 33, 47],
    [97, 130, 47],
    [13, 1, 5],
    [350, 64, 70],
    [29, 1100, 33],
  ];
  for (const c of combos) {
    // AMX: partial tiles in rows and columns (M 1..33 around 16 and 32), several 32-row
    // blocks with a tail, two k-blocks of 1536 (K=3100) with a bias only on the first.
    const amx: [number, number, number][] = [[16, 32, 16], [17, 64, 33], [31, 96, 31], [33, 40, 64], [200, 3100, 40]];
    const list = c.path.endsWith('_dot') || c.path.endsWith('_amx') ? [...shapes, [350, 17000, 20] as [number, number, number], ...(c.path.endsWith('_amx') ? amx : [])] : shapes;
    for (const [M, K, N] of list)
      it(`${c.isa} ${c.path} M=${M} K=${K} N=${N}`, () => {
        const x = randoms(M * K, M * 7 + K + 1);
        const W = randoms(N * K, N * 13 + K + 2);
        const b = randoms(N, N + 3);
        const opts = { weights: c.weights, dot: c.dot };
        const ep = (M + K) % 3;
        const ref = T.gemm(x, M, K, W, N, b, c.isa, ep, true, opts);
        const got = T.gemm(x, M, K, W, N, b, c.isa, ep, false, opts);
        // Same operands as the reference (stored weights, converted activations): only
        // f32 accumulation differs, as for the f32 kernels above.
        expect(maxAbs(got, ref)).toBeLessThan(1e-6 * Math.sqrt(K) * 4 + 1e-6);
      });
  }
  // Error of each storage type against exact f32 weights (random |x|,|w| < 1, K = 1536):
  // bf16 rounds each weight by ≤ 2^-9 relative; int8 by ≤ d/2 = max|w_block|/254; the
  // dot paths round the activations the same way. Measured 1.4e-3 / 1.8e-3 (bf16 widen /
  // dot) and 3.4e-3 / 4.4e-3 (int8 widen / dot) of max|y|; the bounds leave ≥ 5× margin.
  for (const c of combos.filter((c) => c.weights !== 'f32'))
    it(`${c.isa} ${c.path}: error against f32 weights stays within its type's bound`, () => {
      const M = 16, K = 1536, N = 64;
      const x = randoms(M * K, 5), W = randoms(N * K, 6);
      const exact = T.gemm(x, M, K, W, N, null, c.isa, 0, true);
      const got = T.gemm(x, M, K, W, N, null, c.isa, 0, false, { weights: c.weights, dot: c.dot });
      expect(relErr(got, exact)).toBeLessThan(c.weights === 'bf16' ? 1e-2 : 3e-2);
    });
  // The SIMD levels compute the epilogue in f32 (x / (1 + exp(t))); the reference is
  // PyTorch's formula in double. Over a wide range, including overflow of x³ and exp.
  for (const isa of isas)
    for (const ep of [1, 2])
      it(`${isa} ${ep === 1 ? 'gelu_tanh' : 'silu'} epilogue over [-1e20, 1e20]`, () => {
        const xs = [-1e20, -1e4, -100, -90, -88.5, 88.5, 90, 100, 1e4, 1e20, 1e-30, -1e-30, 0];
        for (let i = 0; i <= 2000; i++) xs.push(-50 + i * 0.05);
        const x = new Float32Array(xs);
        const M = x.length;
        const ref = T.gemm(x, M, 1, new Float32Array([1]), 1, null, isa, ep, true);
        const got = T.gemm(x, M, 1, new Float32Array([1]), 1, null, isa, ep, false);
        for (let i = 0; i < M; i++) expect(Math.abs(got[i]! - ref[i]!), `x=${x[i]}`).toBeLessThanOrEqual(2e-6 * Math.abs(ref[i]!) + 1e-9);
      });
  it('names the paths it picks', () => {
    expect(T.gemmPath('scalar', 'int8', true)).toBe('int8_widen');
    expect(T.gemmPath('scalar', 'bf16', true)).toBe('bf16_widen');
    expect(T.gemmPath('scalar', 'f32', true)).toBe('f32');
    const f = T.cpu().features;
    if (best === 'avx512') {
      expect(T.gemmPath('avx512', 'bf16', true)).toBe(/avx512_bf16/.test(f) ? 'bf16_dot' : 'bf16_widen');
      expect(T.gemmPath('avx512', 'int8', true)).toBe(/avx512_vnni/.test(f) ? 'int8_dot' : 'int8_widen');
      expect(T.gemmPath('avx512', 'int8', false)).toBe('int8_widen');
      // The engine's own choice without AMX: VNNI whenever present; bf16 dot only where calibrated faster.
      if (!/amx_usable/.test(f)) expect(T.gemmPath('avx512', 'int8')).toBe(/avx512_vnni/.test(f) ? 'int8_dot' : 'int8_widen');
      if (/amx_usable/.test(f)) {
        // AMX whenever this process may use it, for both storage types.
        expect(T.gemmPath('avx512', 'bf16')).toBe('bf16_amx');
        expect(T.gemmPath('avx512', 'int8')).toBe('int8_amx');
        expect(T.gemmPath('avx512', 'int8', 'amx')).toBe('int8_amx');
        expect(T.gemmPath('avx512', 'int8', true)).toBe('int8_dot');
      } else {
        expect(['bf16_dot', 'bf16_widen']).toContain(T.gemmPath('avx512', 'bf16'));
        expect(T.gemmPath('avx512', 'bf16', 'amx')).toBe(T.gemmPath('avx512', 'bf16', true));
      }
    }
    expect(T.gemmPath('avx2', 'bf16', 'amx')).toBe('bf16_widen'); // AMX only at the AVX-512 level
  });
});

// attention: test/attention.test.ts (every variant vs the reference, all page types).

describe('norms', () => {
  const rows = 6, dim = 40, eps = 1e-6;
  const x = randoms(rows * dim, 11).map((v, i) => v * 5 + (i % 3));
  const w = randoms(dim, 12), b = randoms(dim, 13);
  function ln(r: number): number[] {
    const row = Array.from(x.subarray(r * dim, (r + 1) * dim));
    const mean = row.reduce((a, c) => a + c, 0) / dim;
    const v = row.reduce((a, c) => a + (c - mean) ** 2, 0) / dim;
    return row.map((c) => (c - mean) / Math.sqrt(v + eps));
  }
  it('layer norm, affine and not (nn.LayerNorm, biased variance)', () => {
    const got = T.norm('layer', x, rows, dim, eps, w, b);
    const plain = T.norm('layer', x, rows, dim, eps, null, null);
    for (let r = 0; r < rows; r++)
      ln(r).forEach((n, i) => {
        expect(got[r * dim + i]).toBeCloseTo(n * w[i]! + b[i]!, 5);
        expect(plain[r * dim + i]).toBeCloseTo(n, 5);
      });
  });
  it('modulated layer norm: LN(x)·(1+scale)+shift', () => {
    const got = T.norm('layer_mod', x, rows, dim, eps, b, w); // a = shift, b = scale
    for (let r = 0; r < rows; r++) ln(r).forEach((n, i) => expect(got[r * dim + i]).toBeCloseTo(n * (1 + w[i]!) + b[i]!, 5));
  });
  it('RMS norm over the full dim with a learned weight', () => {
    const got = T.norm('rms', x, rows, dim, eps, w, null);
    for (let r = 0; r < rows; r++) {
      const row = x.subarray(r * dim, (r + 1) * dim);
      const rr = 1 / Math.sqrt(row.reduce((a, c) => a + c * c, 0) / dim + eps);
      row.forEach((c, i) => expect(got[r * dim + i]).toBeCloseTo(c * rr * w[i]!, 5));
    }
  });
});

describe('rope (3D, absolute frame positions)', () => {
  for (const [F, H, W, fs, nh, hd] of [
    [3, 4, 4, 0, 2, 32],
    [1, 2, 3, 1234, 3, 24],
    [2, 3, 5, 7, 1, 128],
  ] as const)
    it(`F=${F} H=${H} W=${W} start=${fs} heads=${nh} headDim=${hd} matches the per-element formula`, () => {
      const x = randoms(F * H * W * nh * hd, fs + 1);
      expect(maxAbs(T.rope(x, F, H, W, fs, nh, hd, false), T.rope(x, F, H, W, fs, nh, hd, true))).toBeLessThan(1e-6);
    });
  it('splits head_dim 32 as [12, 10, 10] and rotates by the absolute frame index', () => {
    // One token at (f, h, w) = (0, 0, 0) of frame_start 5: only the t axis (first 12 dims) rotates.
    const x = new Float32Array(32).fill(1);
    const y = T.rope(x, 1, 1, 1, 5, 1, 32);
    for (let j = 0; j < 6; j++) {
      const a = 5 * Math.pow(10000, -(2 * j) / 12);
      expect(y[2 * j]).toBeCloseTo(Math.cos(a) - Math.sin(a), 5);
      expect(y[2 * j + 1]).toBeCloseTo(Math.sin(a) + Math.cos(a), 5);
    }
    for (let i = 12; i < 32; i++) expect(y[i]).toBe(1);
  });
});

describe('time embedding sinusoid', () => {
  it('is [cos, sin] with freq_i = 10000^(-i/half)', () => {
    const t = 937.5, d = 256, half = d / 2;
    const s = T.sinusoid(t, d);
    for (const i of [0, 1, 17, 100, 127]) {
      const a = t * Math.pow(10000, -i / half);
      expect(s[i]).toBeCloseTo(Math.cos(a), 5);
      expect(s[half + i]).toBeCloseTo(Math.sin(a), 5);
    }
  });
});

describe('schedule', () => {
  it('warps [1000, 750, 500, 250] to [1000, 937.5, 833.3, 625] at shift 5, σ = t/1000', () => {
    const s = T.schedule(5, 1000, [1000, 750, 500, 250], true);
    [1000, 937.5, 833.3333, 625].forEach((v, i) => expect(s.steps[i]).toBeCloseTo(v, 3));
    s.steps.forEach((t, i) => expect(s.sigmas[i]).toBeCloseTo(t / 1000, 6));
  });
  it('keeps an unwarped list (CausVid) and looks σ up in the shifted table', () => {
    const s = T.schedule(8, 1000, [1000, 757, 522], false);
    expect(s.steps).toEqual([1000, 757, 522]);
    s.sigmas.forEach((g, i) => expect(Math.abs(g - s.steps[i]! / 1000)).toBeLessThan(2e-3));
  });
  it('rejects a non-integer step under warp', () => {
    expect(() => T.schedule(5, 1000, [1000, 750.5], true)).toThrow(/integer steps/);
  });
});

describe('noise', () => {
  it('Philox4x32-10 matches the Random123 known-answer vectors', () => {
    expect(T.philox([0, 0, 0, 0], [0, 0])).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    expect(T.philox([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])).toEqual([
      0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd,
    ]);
  });
  it('seeded normals are deterministic, independent per (seed, frame, step), and standard normal', () => {
    const a = T.normals(42, 6, 1, 40000);
    expect(maxAbs(a, T.normals(42, 6, 1, 40000))).toBe(0);
    expect(maxAbs(a.subarray(0, 100), T.normals(42, 6, 1, 100))).toBe(0); // prefix-stable
    expect(maxAbs(a, T.normals(43, 6, 1, 40000))).toBeGreaterThan(1);
    expect(maxAbs(a, T.normals(42, 9, 1, 40000))).toBeGreaterThan(1);
    expect(maxAbs(a, T.normals(42, 6, 2, 40000))).toBeGreaterThan(1);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const varc = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(varc - 1)).toBeLessThan(0.03);
  });
  it('accepts 64-bit seeds as bigint', () => {
    expect(maxAbs(T.normals(2n ** 63n + 5n, 0, 0, 16), T.normals(5, 0, 0, 16))).toBeGreaterThan(0);
  });
});

it('relErr helper is a real comparison', () => {
  expect(relErr(new Float32Array([1, 2]), new Float32Array([1, 2]))).toBe(0);
  expect(relErr(new Float32Array([1, 3]), new Float32Array([1, 2]))).toBe(0.5);
});

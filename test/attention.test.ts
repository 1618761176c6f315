// The attention kernels (query-blocked flash attention over K/V spans read in place)
// against the scalar reference, on every SIMD level this CPU has, both parallel
// strategies, f32 / bf16 / int8 spans (with and without the AVX512_BF16 / VNNI dot
// products), sizes that are not multiples of the query block (192), the key tile (64) or
// the micro-kernel tiles, a window with a sink (several spans of mixed types) and
// cross-attention over a prompt cache. The reference models the kernels' numerics
// (attention.h): f32 exact; bf16 queries rounded to bf16 (P's bf16 rounding is the one
// part it leaves exact, hence the looser bound); int8 queries quantised per row, P
// quantised to u8 per 64-key tile.
import { describe, expect, it } from 'vitest';

import { nativeTesting } from './helpers/native_testing.js';
import { randoms } from './helpers/fixtures.js';

const T = nativeTesting().testing;
const order = ['scalar', 'avx2', 'avx512'] as const;
const best = T.cpu().best as (typeof order)[number];
const isas = order.slice(0, order.indexOf(best) + 1);
const hasDot = /avx512_bf16/.test(T.cpu().features) || /avx512_vnni/.test(T.cpu().features);

type KvType = 'f32' | 'bf16' | 'int8';
type Span = { k: Float32Array; v: Float32Array; tokens: number; type?: KvType };

function diff(a: Float32Array, b: Float32Array): { max: number; mean: number; over: number } {
  let max = 0, sum = 0, over = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    max = Math.max(max, d);
    sum += d;
    if (d > 2e-5) over++;
  }
  return { max, mean: sum / a.length, over: over / a.length };
}

// |v| <= 1 in every case below. bf16: P rounded to bf16 moves each weight by at most 2⁻⁹
// relative, so |out − ref| <= 2⁻⁹·max|v|; on average much less. int8: exact up to fp32
// rounding, except a u8 weight that lands within rounding noise of a .5 tie (rare), which
// moves one output by at most 1/255 of that weight's share.
function expectClose(got: Float32Array, ref: Float32Array, type: KvType, what: string) {
  const d = diff(got, ref);
  if (type === 'f32') expect(d.max, what).toBeLessThan(3e-6);
  else if (type === 'bf16') {
    expect(d.max, what).toBeLessThan(2.5e-3);
    expect(d.mean, what).toBeLessThan(2.5e-4);
  } else {
    expect(d.max, what).toBeLessThan(5e-3);
    expect(d.over, what).toBeLessThan(2e-3);
    expect(d.mean, what).toBeLessThan(2e-5);
  }
}

function spansOf(toks: number[], D: number, types: KvType[], seed: number): Span[] {
  return toks.map((t, i) => ({
    k: randoms(t * D, seed + i).map((x) => x * 3),
    v: randoms(t * D, seed + 50 + i),
    tokens: t,
    type: types[i % types.length],
  }));
}

// dot: false widens bf16/int8 tiles to f32; true runs the AVX512_BF16 / VNNI pieces; 'amx'
// runs bf16 pages through AMX tiles (head dims that are multiples of 32) and int8 pages
// through AMX-INT8 ones (multiples of 64; other head dims fall back to the dot pieces)
// where this process may use them.
const hasAmx = /amx_usable/.test(T.cpu().features);
type Variant = { isa: (typeof isas)[number]; dot: boolean | 'amx' };
const variants: Variant[] = isas.flatMap((isa): Variant[] =>
  isa === 'avx512' && hasDot
    ? [{ isa, dot: true }, { isa, dot: false }, ...(hasAmx ? [{ isa, dot: 'amx' as const }] : [])]
    : [{ isa, dot: true }],
);

describe('attention kernels vs the scalar reference', () => {
  // [queries, heads, head_dim, span tokens]
  const cases: [number, number, number, number[]][] = [
    [1, 1, 64, [1]],
    [5, 2, 64, [7]],
    [17, 3, 64, [100, 1, 64]],
    [50, 2, 128, [130]],
    [193, 2, 64, [65, 3]], // two query blocks, a one-row remainder in P·V
    [200, 1, 128, [64, 129]],
    [40, 4, 32, [70]],
    [19, 2, 48, [77]], // 3 sixteen-lane column groups
    [23, 2, 24, [90, 5]], // odd smaller head dims: AVX2 8-lane tail, portable on AVX-512
    [9, 1, 40, [33]],
  ];
  for (const { isa, dot } of variants)
    for (const strategy of ['heads', 'sequence'] as const)
      for (const [nq, nh, hd, toks] of cases)
        it(`${isa}${dot === 'amx' ? ' (AMX)' : dot ? '' : ' (no dot products)'} ${strategy}: nQ=${nq} heads=${nh} d=${hd} spans=[${toks}]`, () => {
          const D = nh * hd;
          const q = randoms(nq * D, 3 + nq).map((v) => v * 3);
          for (const type of ['f32', 'bf16', 'int8'] as const) {
            const spans = spansOf(toks, D, [type], 10 * hd + nq);
            const ref = T.attention(q, nq, spans, nh, hd, true);
            const got = T.attention(q, nq, spans, nh, hd, false, { isa, strategy, dot });
            expectClose(got, ref, type, `${type}`);
          }
        });
});

describe('attention over the spans a session passes', () => {
  it('a window with a sink: sink pages, window pages and the block scratch (bf16/int8 pages, f32 scratch)', () => {
    const nh = 2, hd = 64, D = nh * hd, perFrame = 48, nq = 3 * perFrame;
    const q = randoms(nq * D, 91).map((v) => v * 3);
    for (const type of ['f32', 'bf16', 'int8'] as const) {
      // sink: frame 0; window: frames 5..7; then the block's own scratch K/V (f32)
      const pages = spansOf([perFrame, perFrame, perFrame, perFrame], D, [type], 300);
      const scratch = spansOf([nq], D, ['f32'], 400);
      const spans = [...pages, ...scratch];
      const ref = T.attention(q, nq, spans, nh, hd, true);
      for (const { isa, dot } of variants)
        for (const strategy of ['auto', 'heads', 'sequence'] as const) {
          const got = T.attention(q, nq, spans, nh, hd, false, { isa, strategy, dot });
          expectClose(got, ref, type, `${type} ${isa} ${dot} ${strategy}`);
        }
    }
  });
  it('cross-attention: every query row over one prompt-cache span (f32)', () => {
    const nh = 4, hd = 64, D = nh * hd, nq = 300, textLen = 77;
    const q = randoms(nq * D, 92).map((v) => v * 3);
    const spans = spansOf([textLen], D, ['f32'], 500);
    const ref = T.attention(q, nq, spans, nh, hd, true);
    for (const { isa } of variants) expectClose(T.attention(q, nq, spans, nh, hd, false, { isa }), ref, 'f32', isa);
  });
  it('splitting f32 keys into spans changes nothing but rounding (pages are read in place)', () => {
    const nh = 2, hd = 16, D = nh * hd;
    const q = randoms(10 * D, 5);
    const k = randoms(150 * D, 6), v = randoms(150 * D, 7);
    for (const { isa } of variants) {
      const whole = T.attention(q, 10, [{ k, v, tokens: 150 }], nh, hd, false, { isa });
      const parts = T.attention(q, 10, [0, 7, 19, 100].map((s, i, a) => {
        const e = a[i + 1] ?? 150;
        return { k: k.slice(s * D, e * D), v: v.slice(s * D, e * D), tokens: e - s };
      }), nh, hd, false, { isa });
      expect(diff(whole, parts).max).toBeLessThan(1e-6);
    }
  });
  it('the dot-product paths agree with the widened ones (same numerics)', () => {
    if (!hasDot) return;
    const nh = 2, hd = 128, D = nh * hd, nq = 100;
    const q = randoms(nq * D, 93).map((v) => v * 3);
    for (const type of ['bf16', 'int8'] as const) {
      const spans = spansOf([200, 64], D, [type], 600);
      const a = T.attention(q, nq, spans, nh, hd, false, { isa: 'avx512', dot: true });
      const b = T.attention(q, nq, spans, nh, hd, false, { isa: 'avx512', dot: false });
      const d = diff(a, b);
      expect(d.mean, type).toBeLessThan(type === 'bf16' ? 1e-5 : 2e-6);
    }
  });
  it('the AMX pieces agree with the AVX512_BF16 / VNNI ones (same numerics), over many tiles', () => {
    if (!hasAmx) return;
    // 3 query blocks (an odd 16-row tile count in the last), 40 key tiles with a 7-key tail
    // and a 1-key span, a rising key scale so each row's max moves tile after tile.
    const nh = 2, hd = 128, D = nh * hd, nq = 450;
    const q = randoms(nq * D, 94).map((v) => v * 3);
    for (const type of ['bf16', 'int8'] as const) {
      const spans = spansOf([2567, 1], D, [type], 700).map((sp) => ({ ...sp, k: sp.k.map((x, i) => x * (1 + i / sp.k.length)) }));
      const ref = T.attention(q, nq, spans, nh, hd, true);
      for (const strategy of ['heads', 'sequence'] as const) {
        const a = T.attention(q, nq, spans, nh, hd, false, { isa: 'avx512', strategy, dot: 'amx' });
        const b = T.attention(q, nq, spans, nh, hd, false, { isa: 'avx512', strategy, dot: true });
        expect(diff(a, b).mean, `${type} ${strategy}`).toBeLessThan(type === 'bf16' ? 1e-5 : 1e-6);
        expectClose(a, ref, type, `amx ${type} ${strategy}`);
      }
    }
    // extreme scores (|s| in the thousands) stay finite
    const qx = new Float32Array(2 * 64).fill(30);
    for (const type of ['bf16', 'int8'] as const) {
      const big = [{ k: randoms(300 * 64, 8).map((x) => x * 40), v: randoms(300 * 64, 9), tokens: 300, type }];
      const gx = T.attention(qx, 2, big, 1, 64, false, { isa: 'avx512', dot: 'amx' });
      expect(gx.every(Number.isFinite), type).toBe(true);
      expectClose(gx, T.attention(qx, 2, big, 1, 64, true), type, `extreme ${type}`);
    }
  });
  it('extreme scores do not overflow the online softmax', () => {
    const nh = 1, hd = 16;
    const q = new Float32Array(2 * hd).fill(30);
    const k = randoms(100 * hd, 8).map((v) => v * 40);
    const v = randoms(100 * hd, 9);
    const ref = T.attention(q, 2, [{ k, v, tokens: 100 }], nh, hd, true);
    for (const isa of isas) {
      const got = T.attention(q, 2, [{ k, v, tokens: 100 }], nh, hd, false, { isa });
      expect(got.every(Number.isFinite)).toBe(true);
      expect(diff(got, ref).max).toBeLessThan(1e-5);
    }
  });
  it('bad shapes are errors, not crashes', () => {
    const q = new Float32Array(300);
    expect(() => T.attention(q, 1, [{ k: q, v: q, tokens: 1 }], 1, 300)).toThrow();
  });
});

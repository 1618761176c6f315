// The test addon's hooks keep the never-abort rule too: null or missing operands, negative,
// fractional, NaN or huge sizes, wrong types and short arrays are JS errors with a code,
// never a crash (run under ASan/UBSan by `npm run test:sanitize`, where a read past a
// buffer or a null dereference would fail the run).
import { describe, expect, it } from 'vitest';

import { join } from 'node:path';

import { nativeTesting } from './helpers/native_testing.js';
import { fixtures } from './helpers/fixtures.js';

const { testing: T, decoderTesting: D } = nativeTesting();
const f32 = (n: number) => new Float32Array(n).fill(0.5);
// Calls typed loosely on purpose: these are what a careless or hostile caller passes.
type Loose = (...args: unknown[]) => unknown;
const loose = (f: unknown) => f as Loose;

function expectJsError(call: () => unknown, what: string) {
  let err: unknown;
  try {
    call();
  } catch (e) {
    err = e;
  }
  expect(err, what).toBeInstanceOf(Error);
  expect(['ARGUMENT', 'SHAPE', 'CONFIG', 'WEIGHTS'], `${what}: ${(err as Error).message}`).toContain((err as { code?: string }).code);
}

const bad: Record<string, unknown[][]> = {
  gemm: [
    [f32(1), -1, -1, f32(1), 1, null, null, 0], // negative sizes whose product is the array length
    [f32(4), 2, 2, f32(4), 2, null, null, 3], // no such epilogue
    [f32(4), 2, 2, f32(4), 2, null, null, -1],
    [f32(4), 2.5, 2, f32(4), 2, null, null, 0],
    [f32(4), NaN, 2, f32(4), 2, null, null, 0],
    [f32(3), 2, 2, f32(4), 2, null, null, 0], // short x
    [f32(4), 2, 2, f32(4), 2, f32(1), null, 0], // short bias
    [f32(4), 2, 2, [1, 2, 3, 4], 2, null, null, 0], // W not a Float32Array
    [f32(1 << 16), 1 << 16, 1, f32(1 << 16), 1 << 16, null, null, 0], // a 16-GiB output
    [f32(4), 2, 2, f32(4), 2, null, 'sse9', 0],
    [f32(4), 2, 2, f32(4), 2, null, 7, 0],
    [f32(4), 2, 2, f32(4), 2, null, null, 0, false, 'opts'],
    [f32(4), 2, 2, f32(4), 2, null, null, 0, false, { weights: 'int4' }],
    [],
  ],
  gemmPath: [[null, 'q4'], [3, 'f32']],
  benchGemm: [
    [0, 4, 4, 'f32', 1, 1],
    [4, 4, 4, 'f32', 1e6, 1], // a million threads
    [4, 4, 4, 'f32', 1, -5],
    [1 << 20, 1 << 20, 1, 'f32', 1, 1],
    [4, 4, 4, 'f16', 1, 1],
  ],
  attention: [
    [f32(8), 1, [{ k: f32(0), v: f32(0), tokens: -1 }], 1, 8], // negative tokens skipped the length check
    [f32(8), 1, [{ k: f32(8), v: f32(8), tokens: 'one' }], 1, 8],
    [f32(8), 1, [{ k: f32(8), v: f32(8) }], 1, 8],
    [f32(8), 1, [{ k: f32(4), v: f32(8), tokens: 1 }], 1, 8], // short k
    [f32(8), 1, [{ k: f32(8), v: f32(8), tokens: 1, type: 'int4' }], 1, 8],
    [f32(8), 1, [{ k: f32(8), v: f32(8), tokens: 1, type: 8 }], 1, 8],
    [f32(8), 1, [42], 1, 8],
    [f32(8), 1, [null], 1, 8],
    [f32(8), 1, 'spans', 1, 8],
    [f32(8), -1, [], 1, -8],
    [f32(7), 1, [], 1, 7], // odd head_dim
    [f32(512), 1, [], 1, 512], // head_dim above 256
    [f32(8), 1, [], 1, 8, false, { strategy: 'diagonal' }],
    [f32(8), 1, [], 1, 8, false, { isa: 'mmx' }],
    [f32(8), 1, [], 1, 8, false, 'heads'],
  ],
  benchAttention: [
    [1, 1, 1, 1, 8, 'f16', 1],
    [1, 1, 1, 1, 8, 3, 1],
    [-1, 1, 1, 1, 8, 'f32', 1],
    [1, 1 << 16, 1 << 16, 8, 64, 'f32', 1],
    [1, 1, 1, 1, 8, 'f32', 0],
    [1, 1, 1, 1, 8, 'f32', 1, 'zigzag'],
    [1, 1, 1, 1, 8, 'f32', 1, undefined, undefined, { compare: 1 }],
  ],
  quantizeI8: [
    [f32(1), -1, -1, 1],
    [f32(4), 1, 1, 0],
    [f32(3), 1, 1, 4],
    ['x', 1, 1, 4],
  ],
  norm: [
    ['rms', f32(4), 1, 4, 1e-6, null, null], // rms reads its weight: null was a null dereference
    ['layer_mod', f32(4), 1, 4, 1e-6, f32(4), null], // layer_mod reads shift and scale
    ['layer_mod', f32(4), 1, 4, 1e-6, null, null],
    ['layer', f32(4), 1, 4, 1e-6, f32(3), null],
    ['layer', f32(4), 1, 4, 'eps', null, null],
    ['group', f32(4), 1, 4, 1e-6, null, null],
    [7, f32(4), 1, 4, 1e-6, null, null],
    ['layer', f32(4), -1, -4, 1e-6, null, null],
    ['rms', f32(4), 1, 4, 1e-6, 'w', null],
  ],
  rope: [
    [f32(8), 1, 1, 1, 0, 1, 7], // odd head_dim
    [f32(8), 1, 1, 1, -3, 1, 8],
    [f32(8), 1, 1, 1, 'start', 1, 8],
    [f32(8), -1, -1, 1, 0, 1, 8],
    [f32(8), 1, 1, 1, 0, 1, 0],
    [f32(4), 1, 1, 1, 0, 1, 8],
  ],
  parseSafetensors: [['bytes'], [null], [[1, 2, 3]], [], [new Uint8Array([1, 2, 3])], [new Uint8Array(16)]],
  parseConfig: [[42], [null], [], ['{'], ['[]'], ['{"dim": -1}']],
  philox: [[1, 2], [[0, 0, 0], [0, 0]], [[0, 0, 0, 0], [0]], [[0, 0, 0, -1], [0, 0]], [['a', 0, 0, 0], [0, 0]], [[0, 0, 0, 2 ** 32], [0, 0]], []],
  normals: [[1, 0, 0, -1], [1, 0, 0, 2 ** 40], ['seed', 0, 0, 4], [1, 'f', 0, 4], [1, -1, 0, 4], [NaN, 0, 0, 4], []],
  schedule: [
    [5, 0, [1000], false], // an empty table: sigma() read entry 0 of nothing
    [5, -10, [1000], false],
    [NaN, 1000, [1000], false],
    ['5', 1000, [1000], false],
    [5, 1000, 'steps', false],
    [5, 1000, [1000, 'x'], false],
    [5, 1000, [2000], true],
  ],
  sinusoid: [[0, -1], [0, 2 ** 30], ['t', 4], [0, 'd'], []],
  setIsa: [['mmx'], [3], []],
};

const badDecoder: Record<string, unknown[][]> = {
  conv2d: [
    [[], 2, 2, f32(0), null, 1, 3], // no input
    [[{ data: f32(4), channels: 1 }], 2, 2, f32(4), null, 1, 2], // a 2x2 kernel
    [[{ data: f32(4), channels: -1 }], 2, 2, f32(9), null, 1, 3],
    [[{ data: f32(4), channels: 1 }], 2, 2, f32(9), null, -1, 3],
    [[{ data: f32(3), channels: 1 }], 2, 2, f32(9), null, 1, 3],
    [[{ data: f32(4), channels: 1, up2: true }], 3, 3, f32(9), null, 1, 3],
    [[{ data: f32(4), channels: 1 }], 2, 2, f32(9), f32(3), 1, 3],
    [[{ data: f32(4), channels: 1 }], 2, 2, f32(9), null, 1, 3, { isa: 'mmx' }],
    [[{ data: f32(4), channels: 1 }], 2, 2, f32(9), null, 1, 3, { residual: f32(1) }],
    [[{ data: f32(4), channels: 1 }], 2, 2, f32(9), null, 1, 3, 'opts'],
    [[42], 2, 2, f32(9), null, 1, 3],
    ['inputs', 2, 2, f32(9), null, 1, 3],
    [],
  ],
  upsample2: [[f32(4), -1, -1, 4], [f32(3), 1, 2, 2], [f32(4), 1, 2, 'w']],
  frameToU8: [[f32(4), 5, 1, 1], [f32(3), 1, 2, 2], [f32(4), 1, -2, -2]],
  parseConfig: [[42], [], ['{'], ['{"n_f": "many"}']],
  decode: (() => {
    const tiny = join(fixtures, 'taehv_tiny');
    const geo = join(fixtures, 'taehv_geo_s2'); // 4 latent channels, G = 3, 4x3 latents -> a 3x16x12 map
    const blk = (o: Record<string, unknown> = {}) => ({ latents: f32(4 * 12), frames: 1, height: 4, width: 3, ...o });
    return [
      [],
      [42, {}, []],
      [tiny, 'opts', []],
      [tiny, {}, 'blocks'],
      [tiny, { isa: 'mmx' }, []],
      [tiny, { precision: 'f16' }, []],
      [join(fixtures, 'no-such-decoder'), {}, []],
      [tiny, {}, [42]],
      [tiny, {}, [blk({ latents: f32(3) })]],
      [tiny, {}, [blk({ frames: 0 })]],
      [tiny, {}, [blk({ height: -1 })]],
      [tiny, {}, [blk({ geometry: f32(1) })]], // a plain decoder takes no map
      [tiny, {}, [blk({ geometry: new Float32Array(0) })]],
      [geo, {}, [blk()]], // a geometry decoder needs one
      [geo, {}, [blk({ geometry: f32(5) })]],
      [geo, {}, [blk({ geometry: [1, 2] })]],
      [geo, {}, [blk({ geometry: new Float32Array(3 * 16 * 12).fill(NaN) })]],
    ];
  })(),
};

describe('test hooks refuse bad arguments with JS errors', () => {
  for (const [name, calls] of Object.entries(bad))
    it(`testing.${name}`, () => {
      const fn = loose((T as unknown as Record<string, unknown>)[name]);
      expect(typeof fn).toBe('function');
      calls.forEach((args, i) => expectJsError(() => fn(...args), `${name} #${i}`));
    });
  for (const [name, calls] of Object.entries(badDecoder))
    it(`decoderTesting.${name}`, () => {
      const fn = loose((D as unknown as Record<string, unknown>)[name]);
      expect(typeof fn).toBe('function');
      calls.forEach((args, i) => expectJsError(() => fn(...args), `${name} #${i}`));
    });
  it('every hook has bad-argument cases here', () => {
    expect(Object.keys(bad).sort()).toEqual(Object.keys(T).filter((k) => k !== 'cpu').sort());
    expect(Object.keys(badDecoder).sort()).toEqual(Object.keys(D).sort());
  });
  it('and the hooks still work afterwards', () => {
    expect(Array.from(T.gemm(f32(4), 2, 2, new Float32Array([1, 0, 0, 1]), 2, null, null, 0))).toEqual([0.5, 0.5, 0.5, 0.5]);
    expect(T.norm('rms', f32(4), 1, 4, 0, new Float32Array(4).fill(1), null)[0]).toBeCloseTo(1, 6);
    expect(T.schedule(5, 1000, [1000], true).steps).toEqual([1000]);
    expect(D.frameToU8(new Float32Array([1]), 1, 1, 1)[0]).toBe(255);
    // the benchmark's paired comparison: both strategies and the contiguous span, timed
    const c = T.benchAttention(16, 4, 16, 2, 8, 'bf16', 1, undefined, undefined, { samples: 3, compare: true });
    for (const k of ['headsSec', 'sequenceSec', 'contiguousSec', 'autoOverOther', 'pagedOverContiguous'] as const) expect(c[k]).toBeGreaterThan(0);
    expect(['heads', 'sequence']).toContain(c.auto);
  });
});

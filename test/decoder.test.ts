// The TAEHV video decoder: golden frames of the PyTorch reference (tools/reference/taehv.py,
// float64, itself bit-identical to upstream's taehv.py — check_taehv_upstream.py), streaming
// block by block vs the whole video at once, conv2d fast paths vs the scalar reference,
// loader errors and stream bookkeeping.
//
// Tolerance: 1e-4 of the reference's scale for f32 frames. The engine computes in fp32
// (each conv accumulates <= 288 products per output in a different order than the
// reference) through ~20 layers; measured error is ~1e-6. Any semantic slip (a missing
// clamp, wrong TGrow frame order, MemBlock state not carried) is > 1e-2. Bytes: within ±1
// of round(255 x) of the reference (fp32 noise can flip a value sitting on a .5 boundary).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  ArgumentError,
  ClosedError,
  ConfigError,
  ShapeError,
  WeightsError,
  decodeSafetensors,
  encodeSafetensors,
  loadDecoder,
  loadModel,
  readSafetensors,
  type Decoder,
  type Tensor,
} from '../sdk/src/index.js';
import { nativeTesting } from './helpers/native_testing.js';
import { fixtures, randoms, relErr } from './helpers/fixtures.js';

const TOL = 1e-4;

interface DecoderCase {
  name: string;
  dir: string;
  latent_channels: number;
  height: number;
  width: number;
  blocks: number[];
  frames_per_block: number[];
  out_height: number;
  out_width: number;
  image_channels: number;
  t_upscale: number;
  frames_to_trim: number;
}

const meta = JSON.parse(readFileSync(join(fixtures, 'golden', 'taehv.json'), 'utf8')) as { cases: DecoderCase[] };
const golden = readSafetensors(join(fixtures, 'golden', 'taehv.safetensors')).tensors;
const tinyDir = join(fixtures, 'taehv_tiny');

function g(name: string): Tensor {
  const t = golden.get(name);
  if (!t) throw new Error(`golden tensor ${name} missing`);
  return t;
}

/** Frame i of a golden [n, C, H, W] tensor. */
function goldenFrame(t: Tensor, i: number): Float32Array {
  const n = t.shape[1]! * t.shape[2]! * t.shape[3]!;
  return t.data.subarray(i * n, (i + 1) * n);
}

/** Concatenate (C, F_i, H, W) blocks along F. */
function catFrames(blocks: Float32Array[], frames: number[], C: number, hw: number): Float32Array {
  const total = frames.reduce((a, b) => a + b, 0);
  const out = new Float32Array(C * total * hw);
  let f0 = 0;
  blocks.forEach((b, k) => {
    const F = frames[k]!;
    for (let c = 0; c < C; c++) out.set(b.subarray(c * F * hw, (c + 1) * F * hw), (c * total + f0) * hw);
    f0 += F;
  });
  return out;
}

/** Frames [f0, f0+F) of a (C, T, H, W) tensor. */
function sliceFrames(x: Float32Array, C: number, T: number, hw: number, f0: number, F: number): Float32Array {
  const out = new Float32Array(C * F * hw);
  for (let c = 0; c < C; c++) out.set(x.subarray((c * T + f0) * hw, (c * T + f0 + F) * hw), c * F * hw);
  return out;
}

/** torch's `(x.clamp(0,1) * 255).round()` in float32: round half to even. */
function toByte(x: number): number {
  const v = Math.fround(Math.fround(Math.min(Math.max(x, 0), 1)) * 255);
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
}

const work = mkdtempSync(join(tmpdir(), 'wc-decoder-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let dirs = 0;
/** A decoder directory of these tensors and config (a JSON value, or its text as is) under `work`. */
function decoderDir(tensors: Record<string, Tensor> | Map<string, Tensor>, config: unknown): string {
  const dir = join(work, `d${dirs++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(tensors instanceof Map ? Object.fromEntries(tensors.entries()) : tensors));
  return dir;
}
async function loadError(dir: string): Promise<Error> {
  try {
    (await loadDecoder(dir, { threads: 1 })).close();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the load to fail');
}

for (const c of meta.cases) {
  describe(`decoder golden: ${c.name} (${c.dir})`, () => {
    let dec: Decoder;
    beforeAll(async () => {
      dec = await loadDecoder(join(fixtures, c.dir), { threads: 2 });
    });
    afterAll(() => dec.close());

    it('reports the config it was built from', () => {
      expect(dec.config.latent_channels).toBe(c.latent_channels);
      expect(dec.config.t_upscale).toBe(c.t_upscale);
      expect(dec.config.frames_to_trim).toBe(c.frames_to_trim);
      expect(dec.config.space_scale * c.height).toBe(c.out_height);
    });

    it('streams the reference frames block by block (f32 within 1e-4, bytes within ±1)', async () => {
      const s = dec.createStream();
      const s8 = dec.createStream();
      let worst = 0;
      let off = 0;
      let total = 0;
      for (let b = 0; b < c.blocks.length; b++) {
        const lat = g(`${c.name}.block.${b}.latents`).data;
        const ref = g(`${c.name}.block.${b}.frames`);
        const out = await s.decodeF32(lat, c.blocks[b]!, c.height, c.width);
        const out8 = await s8.decode(lat, c.blocks[b]!, c.height, c.width);
        expect(out.frames.length).toBe(c.frames_per_block[b]);
        expect(out8.frames.length).toBe(c.frames_per_block[b]);
        expect([out.channels, out.height, out.width]).toEqual([c.image_channels, c.out_height, c.out_width]);
        expect([out8.channels, out8.height, out8.width]).toEqual([c.image_channels, c.out_height, c.out_width]);
        total += out.frames.length;
        expect(out.framesOut).toBe(total);
        expect(out.latentFrames).toBe(c.blocks.slice(0, b + 1).reduce((x, y) => x + y, 0));
        const hw = c.out_height * c.out_width;
        for (let i = 0; i < out.frames.length; i++) {
          const want = goldenFrame(ref, i);
          const e = relErr(out.frames[i]!, want);
          worst = Math.max(worst, e);
          expect(e, `block ${b} frame ${i}`).toBeLessThan(TOL);
          const bytes = out8.frames[i]!;
          expect(bytes.length).toBe(hw * c.image_channels);
          for (let p = 0; p < hw; p++)
            for (let ch = 0; ch < c.image_channels; ch++) {
              const d = Math.abs(bytes[p * c.image_channels + ch]! - toByte(want[ch * hw + p]!));
              off = Math.max(off, d);
            }
        }
      }
      expect(off).toBeLessThanOrEqual(1);
      expect(worst).toBeLessThan(TOL);
      await s.close();
      await s8.close();
    });

    it('decodes the whole video at once, or in other splits, to the same frames bit for bit', async () => {
      const C = c.latent_channels;
      const hw = c.height * c.width;
      const blocks = c.blocks.map((_, b) => g(`${c.name}.block.${b}.latents`).data);
      const T = c.blocks.reduce((a, b) => a + b, 0);
      const all = catFrames(blocks, c.blocks, C, hw);
      const s = dec.createStream();
      const whole = (await s.decodeF32(all, T, c.height, c.width)).frames;
      expect(whole.length).toBe(c.frames_per_block.reduce((a, b) => a + b, 0));
      const splits = [Array<number>(T).fill(1), [2, T - 2]];
      for (const split of splits) {
        const st = dec.createStream();
        const got: Float32Array[] = [];
        let f0 = 0;
        for (const F of split) {
          got.push(...(await st.decodeF32(sliceFrames(all, C, T, hw, f0, F), F, c.height, c.width)).frames);
          f0 += F;
        }
        expect(got.length).toBe(whole.length);
        got.forEach((f, i) => expect(Buffer.compare(Buffer.from(f.buffer), Buffer.from(whole[i]!.buffer)), `split ${split} frame ${i}`).toBe(0));
        await st.close();
      }
      await s.close();
    });
  });
}

describe('decoder stream', () => {
  let dec: Decoder;
  const c = meta.cases[0]!;
  beforeAll(async () => {
    dec = await loadDecoder(tinyDir, { threads: 2 });
  });
  afterAll(() => dec.close());

  it('reset() restarts the stream: no state, start-up frames trimmed again, a new size allowed', async () => {
    const s = dec.createStream();
    const lat0 = g(`${c.name}.block.0.latents`).data;
    const first = await s.decodeF32(lat0, 3, c.height, c.width);
    await s.decodeF32(g(`${c.name}.block.1.latents`).data, 3, c.height, c.width);
    await s.reset();
    expect((await s.stats()).latentFrames).toBe(0);
    const again = await s.decodeF32(lat0, 3, c.height, c.width);
    expect(again.frames.length).toBe(first.frames.length);
    expect(again.framesOut).toBe(first.frames.length);
    again.frames.forEach((f, i) => expect(Buffer.compare(Buffer.from(f.buffer), Buffer.from(first.frames[i]!.buffer))).toBe(0));
    // without reset the size is fixed ...
    await expect(s.decodeF32(randoms(4 * 2 * 6 * 5, 3), 2, 6, 5)).rejects.toBeInstanceOf(ShapeError);
    // ... after it, any size
    await s.reset();
    const small = await s.decode(randoms(4 * 2 * 6 * 5, 3), 2, 6, 5);
    expect([small.frames.length, small.height, small.width]).toEqual([2 * 4 - 3, 12, 10]);
    const st = await s.stats();
    expect([st.latentHeight, st.latentWidth, st.latentFrames]).toEqual([6, 5, 2]);
    expect(st.stateBytes).toBe(3 * 4 * (16 * 30 + 8 * 120 + 8 * 120));
    await s.close();
  });

  it('runs on a model\'s engine thread when given one: the same frames, the model\'s threads, each closed on its own', async () => {
    const model = await loadModel(join(fixtures, 'tiny'), { threads: 2, decoder: null });
    const shared = await loadDecoder(tinyDir, { engine: model });
    expect(shared.info().threads).toBe(model.info().threads);
    const lat = g(`${c.name}.block.0.latents`).data;
    const mine = dec.createStream();
    const theirs = shared.createStream();
    const session = model.createSession({ seed: 1 });
    // steps and decodes interleaved on the one engine thread
    const [a, , b] = await Promise.all([mine.decodeF32(lat, 3, c.height, c.width), session.step(), theirs.decodeF32(lat, 3, c.height, c.width)]);
    a.frames.forEach((f, i) => expect(Buffer.compare(Buffer.from(f.buffer), Buffer.from(b.frames[i]!.buffer)), `frame ${i}`).toBe(0));
    // the decoder outlives the model's close (pending work finishes), and the other way round
    const pending = theirs.decodeF32(g(`${c.name}.block.1.latents`).data, 3, c.height, c.width);
    model.close();
    expect((await pending).frames.length).toBe(12);
    await session.close();
    await theirs.close();
    shared.close();
    await expect(loadDecoder(tinyDir, { engine: {} as never })).rejects.toBeInstanceOf(ArgumentError);
    const m2 = await loadModel(join(fixtures, 'tiny'), { threads: 1, decoder: null });
    await expect(loadDecoder(tinyDir, { engine: m2, threads: 2 })).rejects.toThrow(/threads or engine, not both/);
    m2.close();
    await expect(loadDecoder(tinyDir, { engine: m2 })).rejects.toThrow(/closed/);
    await mine.close();
  });

  it("precision 'bf16' decodes within bf16's rounding of the golden frames where the CPU has AVX512_BF16, and is a ConfigError elsewhere", async () => {
    const cpu = nativeTesting().testing.cpu();
    const fast = cpu.active === 'avx512' && cpu.features.split(/[ ,]+/).includes('avx512_bf16');
    await expect(loadDecoder(tinyDir, { threads: 2, precision: 'f16' as never })).rejects.toBeInstanceOf(ArgumentError);
    // loadModel's decoderPrecision: checked whether or not a decoder gets loaded, and not for a Decoder already loaded
    await expect(loadModel(join(fixtures, 'tiny'), { threads: 1, decoder: null, decoderPrecision: 'f16' as never })).rejects.toBeInstanceOf(ArgumentError);
    await expect(loadModel(join(fixtures, 'tiny'), { threads: 1, decoder: dec, decoderPrecision: 'f32' })).rejects.toThrow(/keeps the precision it was loaded with/);
    // f32: the 3x3 convs with >= 8 outputs run Winograd off AVX-512; the RGB head and TGrow's 1x1 stay direct
    const convs = dec.info().convolutions;
    expect(convs.direct).toBeGreaterThan(0);
    expect(convs.winograd > 0).toBe(dec.info().isa !== 'avx512');
    if (!fast) {
      await expect(loadModel(join(fixtures, 'tiny'), { threads: 1, decoder: tinyDir, decoderPrecision: 'bf16' })).rejects.toThrow(ConfigError);
      await expect(loadDecoder(tinyDir, { threads: 2, precision: 'bf16' })).rejects.toThrow(ConfigError);
      return;
    }
    const d16 = await loadDecoder(tinyDir, { threads: 2, precision: 'bf16' });
    expect([d16.info().precision, dec.info().precision]).toEqual(['bf16', 'f32']);
    expect(d16.info().convolutions.winograd).toBe(0); // bf16 runs the direct VDPBF16PS kernels
    const m16 = await loadModel(join(fixtures, 'tiny'), { threads: 1, decoder: tinyDir, decoderPrecision: 'bf16' });
    expect(m16.decoder!.info().precision).toBe('bf16');
    m16.close();
    const s16 = d16.createStream();
    let worst = 0;
    let exact = true;
    for (let b = 0; b < c.blocks.length; b++) {
      const got = await s16.decodeF32(g(`${c.name}.block.${b}.latents`).data, c.blocks[b]!, c.height, c.width);
      const ref = g(`${c.name}.block.${b}.frames`);
      got.frames.forEach((f, i) => {
        const e = relErr(f, goldenFrame(ref, i));
        worst = Math.max(worst, e);
        if (e > TOL) exact = false;
      });
    }
    // off f32 by more than f32's tolerance (it is bf16) and within a few bf16 roundings
    expect(exact).toBe(false);
    expect(worst).toBeLessThan(3e-2);
    await s16.close();
    d16.close();
  });

  it('a block of one latent frame returns only what is left after the trim', async () => {
    const s = dec.createStream();
    const one = (await s.decode(randoms(4 * 8 * 8, 5), 1, 8, 8)).frames.length;
    const two = (await s.decode(randoms(4 * 8 * 8, 6), 1, 8, 8)).frames.length;
    expect([one, two]).toEqual([1, 4]);
    await s.close();
  });

  it('streams are independent', async () => {
    const a = dec.createStream();
    const b = dec.createStream();
    const lat0 = g(`${c.name}.block.0.latents`).data;
    const lat1 = g(`${c.name}.block.1.latents`).data;
    await a.decodeF32(lat0, 3, 8, 8);
    await b.decodeF32(randoms(4 * 3 * 8 * 8, 9), 3, 8, 8);
    const ra = await a.decodeF32(lat1, 3, 8, 8);
    const ref = g(`${c.name}.block.1.frames`);
    ra.frames.forEach((f, i) => expect(relErr(f, goldenFrame(ref, i))).toBeLessThan(TOL));
    await a.close();
    await b.close();
  });

  it('bad input is a typed error, never a crash', async () => {
    const s = dec.createStream();
    await expect(s.decode(new Float32Array(10), 3, 8, 8)).rejects.toBeInstanceOf(ShapeError);
    await expect(s.decode(new Float32Array(0), 0, 8, 8)).rejects.toBeInstanceOf(ArgumentError);
    await expect(s.decode(new Float32Array(4 * 8), 1, 8, 1.5)).rejects.toBeInstanceOf(ArgumentError);
    await expect(s.decode([1, 2] as unknown as Float32Array, 1, 1, 1)).rejects.toBeInstanceOf(ArgumentError);
    const nan = randoms(4 * 3 * 8 * 8, 1);
    nan[17] = NaN;
    await expect(s.decode(nan, 3, 8, 8)).rejects.toBeInstanceOf(ArgumentError);
    // the stream is still usable afterwards
    expect((await s.decode(randoms(4 * 3 * 8 * 8, 2), 3, 8, 8)).frames.length).toBe(9);
    await s.close();
    expect(s.closed).toBe(true);
    await expect(s.decode(randoms(4 * 3 * 8 * 8, 2), 3, 8, 8)).rejects.toBeInstanceOf(ClosedError);
  });

  it('frames are RGB bytes: round(255 x), half to even, clamped', () => {
    const T = nativeTesting().decoderTesting;
    const x = new Float32Array([0, 1, -3, 7, 0.5, 0.25, 1 / 255, 0.998, ...randoms(200, 4)]);
    const n = x.length / 1;
    const out = T.frameToU8(x, 1, 1, n);
    for (let i = 0; i < n; i++) expect(out[i], `x = ${x[i]}`).toBe(toByte(x[i]!));
    // HWC interleaving of a CHW frame
    const chw = new Float32Array([0, 0.2, 0.4, 0.6, 0.8, 1]); // C=3, H=1, W=2
    expect(Array.from(T.frameToU8(chw, 3, 1, 2))).toEqual([0, 102, 204, 51, 153, 255]);
  });
});

describe('conv2d kernels', () => {
  const T = nativeTesting().decoderTesting;
  const best = nativeTesting().testing.cpu().best;
  const isas = (['scalar', 'avx2', 'avx512'] as const).filter(
    (i) => i === 'scalar' || (i === 'avx2' && best !== 'scalar') || (i === 'avx512' && best === 'avx512'),
  );
  type ConvShape = { cin: number[]; up?: boolean[]; cout: number; H: number; W: number; k: number };
  /** Random inputs (upsampled ones at half size), weights, bias and residual of a shape, from consecutive seeds. */
  const convCase = (sh: ConvShape, seed: { next: number }) => {
    const cin = sh.cin.reduce((a, b) => a + b, 0);
    const inputs = sh.cin.map((ch, i) => {
      const up = sh.up?.[i] ?? false;
      return { data: randoms(ch * (up ? (sh.H / 2) * (sh.W / 2) : sh.H * sh.W), seed.next++), channels: ch, up2: up };
    });
    const w = randoms(sh.cout * cin * sh.k * sh.k, seed.next++);
    const bias = randoms(sh.cout, seed.next++);
    const residual = randoms(sh.cout * sh.H * sh.W, seed.next++);
    return { inputs, w, bias, residual };
  };
  const shapes: ConvShape[] = [
    { cin: [3], cout: 5, H: 7, W: 9, k: 3 },
    { cin: [1], cout: 1, H: 1, W: 1, k: 3 },
    { cin: [2], cout: 3, H: 1, W: 67, k: 3 },
    { cin: [5], cout: 9, H: 33, W: 1, k: 3 },
    { cin: [13], cout: 17, H: 5, W: 11, k: 1 },
    { cin: [7, 7], cout: 7, H: 6, W: 10, k: 3 },
    { cin: [4], up: [true], cout: 11, H: 10, W: 14, k: 3 },
    { cin: [3, 2], up: [false, true], cout: 6, H: 4, W: 6, k: 1 },
    { cin: [24], cout: 16, H: 13, W: 50, k: 3 },
  ];
  for (const isa of isas) {
    it(`${isa} direct kernels match the scalar reference at odd shapes (concat, x2 upsampled input, residual, relu)`, () => {
      const seed = { next: 1 };
      for (const sh of shapes) {
        const { inputs, w, bias, residual } = convCase(sh, seed);
        for (const opts of [{}, { relu: true }, { residual, relu: true }]) {
          const ref = T.conv2d(inputs, sh.H, sh.W, w, bias, sh.cout, sh.k, { ...opts, ref: true });
          const fast = T.conv2d(inputs, sh.H, sh.W, w, bias, sh.cout, sh.k, { ...opts, isa, algo: 'direct' });
          const single = T.conv2d(inputs, sh.H, sh.W, w, null, sh.cout, sh.k, { ...opts, isa, algo: 'direct', threads: 1 });
          const refNoBias = T.conv2d(inputs, sh.H, sh.W, w, null, sh.cout, sh.k, { ...opts, ref: true });
          expect(relErr(fast, ref), `${JSON.stringify(sh)} ${JSON.stringify(Object.keys(opts))}`).toBeLessThan(1e-5);
          expect(relErr(single, refNoBias)).toBeLessThan(1e-5);
        }
      }
    });
  }

  // Winograd F(4x4, 3x3): another order of operations, with transform coefficients up to 8
  // and 1/24, so its rounding error is ~10x the direct kernel's (measured 2e-6 to 1e-5 of the
  // output's scale at these shapes, growing with cin); it must stay within the 1e-4 the
  // decoder's f32 frames are held to (TOL). Shapes: image sizes not multiples of the 4x4
  // tile, cin and cout not multiples of the 8-channel vectors, concatenated inputs of both
  // kinds inside one 8-channel block, enough tiles for several chunks on both threads.
  const winoShapes: ConvShape[] = [
    ...shapes.filter((sh) => sh.k === 3),
    { cin: [3, 2], up: [false, true], cout: 6, H: 4, W: 6, k: 3 },
    { cin: [5, 6], up: [true, false], cout: 13, H: 18, W: 14, k: 3 },
    { cin: [48, 48], cout: 48, H: 32, W: 32, k: 3 },
    { cin: [16], up: [true], cout: 24, H: 66, W: 30, k: 3 },
    { cin: [64, 64], cout: 64, H: 16, W: 16, k: 3 },
    { cin: [1], cout: 8, H: 2, W: 3, k: 3 },
  ];
  for (const isa of isas) {
    it(`${isa} Winograd matches the scalar reference within the decoder's tolerance, and is the default where it runs`, () => {
      const seed = { next: 50 };
      for (const sh of winoShapes) {
        const { inputs, w, bias, residual } = convCase(sh, seed);
        for (const opts of [{}, { relu: true }, { residual, relu: true }]) {
          const what = `${JSON.stringify(sh)} ${JSON.stringify(Object.keys(opts))}`;
          const ref = T.conv2d(inputs, sh.H, sh.W, w, bias, sh.cout, sh.k, { ...opts, ref: true });
          const wino = T.conv2d(inputs, sh.H, sh.W, w, bias, sh.cout, sh.k, { ...opts, isa, algo: 'winograd' });
          const single = T.conv2d(inputs, sh.H, sh.W, w, bias, sh.cout, sh.k, { ...opts, isa, algo: 'winograd', threads: 1 });
          expect(relErr(wino, ref), what).toBeLessThan(TOL);
          expect(relErr(single, ref), what).toBeLessThan(TOL);
          const auto = T.conv2d(inputs, sh.H, sh.W, w, bias, sh.cout, sh.k, { ...opts, isa });
          const direct = T.conv2d(inputs, sh.H, sh.W, w, bias, sh.cout, sh.k, { ...opts, isa, algo: 'direct' });
          // Auto is Winograd for >= 8 outputs off AVX-512, else direct (bit for bit the one it is)
          const wantWino = sh.cout >= 8 && isa !== 'avx512';
          expect(Buffer.from(auto.buffer).equals(Buffer.from((wantWino ? wino : direct).buffer)), what).toBe(true);
        }
      }
    });
  }

  it('Winograd takes f32 3x3 convolutions only', () => {
    const one = [{ data: new Float32Array(16), channels: 1 }];
    expect(() => T.conv2d(one, 4, 4, new Float32Array(8), null, 8, 1, { algo: 'winograd' })).toThrow(/f32 3x3 convolutions only/);
    expect(() => T.conv2d(one, 4, 4, new Float32Array(72), null, 8, 3, { algo: 'winograd', precision: 'bf16' })).toThrow(/f32 3x3 convolutions only/);
    expect(() => T.conv2d(one, 4, 4, new Float32Array(72), null, 8, 3, { algo: 'fft' })).toThrow(/algo must be/);
  });

  // bf16 precision: weights and input rounded to bf16, products summed in f32. At avx512 on
  // a CPU with AVX512_BF16 the VDPBF16PS kernels run, elsewhere the scalar twin; both match
  // the reference on the rounded values as tightly as f32 matches its own.
  const bf16Shapes = [
    ...shapes,
    { cin: [3, 2], up: [false, true], cout: 6, H: 4, W: 6, k: 3 }, // a pair of one plain, one upsampled channel
    { cin: [1, 4], up: [true, false], cout: 5, H: 6, W: 8, k: 3 },
    { cin: [16], cout: 3, H: 20, W: 100, k: 3 }, // the RGB head's narrow tile
    { cin: [9], up: [true], cout: 12, H: 32, W: 34, k: 3 }, // odd cin, upsampled, threaded
  ];
  // AMX tiles: 16 pair planes per block (cin 33..64: a padded second block), 32 or 16
  // output channels per tile (cout 40: a partial second block; 17: just over one 16-tile),
  // 1x1 convs, and images whose rows end inside a tile.
  const amxShapes = [
    { cin: [64], cout: 64, H: 17, W: 23, k: 3 },
    { cin: [40, 9], up: [false, true], cout: 40, H: 10, W: 14, k: 3 },
    { cin: [33], cout: 17, H: 9, W: 70, k: 3 },
    { cin: [64], cout: 48, H: 12, W: 12, k: 1 },
    { cin: [16], cout: 3, H: 31, W: 37, k: 3 },
  ];
  // Where the process may use AMX, avx512 bf16 runs the AMX tile kernels by default and the
  // VDPBF16PS ones with amx: false; both against the reference.
  const hasAmx = /amx_usable/.test(nativeTesting().testing.cpu().features);
  const bf16Variants = isas.flatMap((isa) => (isa === 'avx512' && hasAmx ? [{ isa, amx: true }, { isa, amx: false }] : [{ isa, amx: true }]));
  for (const { isa, amx } of bf16Variants) {
    it(`${isa}${isa === 'avx512' && hasAmx ? (amx ? ' (AMX)' : ' (VDPBF16PS)') : ''} bf16 precision matches the reference on bf16-rounded weights and input`, () => {
      const seed = { next: 100 };
      for (const sh of [...bf16Shapes, ...(amx && hasAmx ? amxShapes : [])]) {
        const { inputs, w, bias, residual } = convCase(sh, seed);
        for (const opts of [{}, { relu: true }, { residual, relu: true }]) {
          const ref = T.conv2d(inputs, sh.H, sh.W, w, bias, sh.cout, sh.k, { ...opts, ref: true, precision: 'bf16' as const });
          const fast = T.conv2d(inputs, sh.H, sh.W, w, bias, sh.cout, sh.k, { ...opts, isa, amx, precision: 'bf16' as const });
          const single = T.conv2d(inputs, sh.H, sh.W, w, bias, sh.cout, sh.k, { ...opts, isa, amx, precision: 'bf16' as const, threads: 1 });
          const f32 = T.conv2d(inputs, sh.H, sh.W, w, bias, sh.cout, sh.k, { ...opts, ref: true });
          const what = `${JSON.stringify(sh)} ${JSON.stringify(Object.keys(opts))}`;
          expect(relErr(fast, ref), what).toBeLessThan(1e-5);
          expect(relErr(single, ref), what).toBeLessThan(1e-5);
          // and it is bf16: off the f32 result by bf16's rounding (2^-9 relative per value), not more
          const e = relErr(fast, f32);
          if (f32.length > 4 && !('relu' in opts)) expect(e, what).toBeGreaterThan(1e-5);
          expect(e, what).toBeLessThan(2e-2);
        }
      }
    });
  }

  it('a known 3x3 convolution (zero padding at the border)', () => {
    // all-ones 3x3 kernel on a 3x3 image of ones: each output counts its in-image neighbours
    const out = T.conv2d([{ data: new Float32Array(9).fill(1), channels: 1 }], 3, 3, new Float32Array(9).fill(1), new Float32Array([0.5]), 1, 3);
    expect(Array.from(out)).toEqual([4, 6, 4, 6, 9, 6, 4, 6, 4].map((v) => v + 0.5));
  });

  it('upsample2 repeats each pixel 2x2', () => {
    const x = randoms(3 * 5 * 7, 11);
    const y = T.upsample2(x, 3, 5, 7);
    for (let c = 0; c < 3; c++)
      for (let yy = 0; yy < 10; yy++)
        for (let xx = 0; xx < 14; xx++) expect(y[(c * 10 + yy) * 14 + xx]).toBe(x[(c * 5 + (yy >> 1)) * 7 + (xx >> 1)]);
  });

  it('bad kernel arguments are typed errors', () => {
    const one = [{ data: new Float32Array(4), channels: 1 }];
    expect(() => T.conv2d(one, 2, 2, new Float32Array(4), null, 1, 2)).toThrow(/kernel size must be 1 or 3/);
    expect(() => T.conv2d(one, 2, 2, new Float32Array(8), null, 1, 3)).toThrow(/weight has 8 values/);
    expect(() => T.conv2d([{ data: new Float32Array(4), channels: 1, up2: true }], 3, 3, new Float32Array(9), null, 1, 3)).toThrow(/even/);
  });
});

describe('decoder loading', () => {
  const tinyConfig = JSON.parse(readFileSync(join(tinyDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const tiny = decodeSafetensors(readFileSync(join(tinyDir, 'model.safetensors'))).tensors;
  const tinyDecoderDir = (tensors: Record<string, Tensor>, config: unknown = tinyConfig): string => decoderDir(tensors, config);
  const tensors = (): Record<string, Tensor> => Object.fromEntries(tiny.entries());

  it('a missing tensor is a WeightsError naming the file and the tensor', async () => {
    const t = tensors();
    delete t['decoder.10.conv.2.bias'];
    const e = await loadError(tinyDecoderDir(t));
    expect(e).toBeInstanceOf(WeightsError);
    expect(e.message).toMatch(/model\.safetensors.*missing tensor.*decoder\.10\.conv\.2\.bias/);
  });

  it('a mis-shaped tensor is a WeightsError with both shapes', async () => {
    const t = tensors();
    t['decoder.8.weight'] = { shape: [8, 16, 3, 1], data: new Float32Array(8 * 16 * 3) };
    const e = await loadError(tinyDecoderDir(t));
    expect(e).toBeInstanceOf(WeightsError);
    expect(e.message).toMatch(/decoder\.8\.weight.*\[8, 16, 3, 1\].*expected \[8, 16, 3, 3\]/);
  });

  it('an unexpected tensor is a WeightsError; encoder.* tensors are ignored', async () => {
    const t = tensors();
    t['decoder.3.skip.weight'] = { shape: [16, 16, 1, 1], data: new Float32Array(256) };
    const e = await loadError(tinyDecoderDir(t));
    expect(e).toBeInstanceOf(WeightsError);
    expect(e.message).toMatch(/unexpected tensor.*decoder\.3\.skip\.weight/);
    const t2 = tensors();
    t2['encoder.0.weight'] = { shape: [64, 3, 3, 3], data: new Float32Array(64 * 27) };
    const d = await loadDecoder(tinyDecoderDir(t2), { threads: 1 });
    expect(d.config.n_f).toEqual([16, 8, 8, 8]);
    d.close();
  });

  it('bad configs are ConfigErrors naming the key', async () => {
    const bad: [unknown, RegExp][] = [
      [{ ...tinyConfig, n_f: [16, 8, 8] }, /n_f.*4 entries/],
      [{ ...tinyConfig, latent_channels: 'four' }, /latent_channels.*integer/],
      [{ ...tinyConfig, decoder_time_upscale: [true] }, /decoder_time_upscale.*2 or 3 entries/],
      [{ ...tinyConfig, decoder_space_upscale: [1, 0, 0] }, /decoder_space_upscale.*booleans/],
      [{ ...tinyConfig, arch_variant: 'super' }, /arch_variant.*super.*not supported/],
      [{ ...tinyConfig, type: 'vae' }, /type.*taehv/],
      [{ ...tinyConfig, patch_size: 0 }, /patch_size/],
      ['{"n_f": [1, 2, 3, 4]', /config/],
      [[1, 2], /JSON object/],
    ];
    for (const [cfg, re] of bad) {
      const e = await loadError(tinyDecoderDir(tensors(), cfg));
      expect(e, JSON.stringify(cfg)).toBeInstanceOf(ConfigError);
      expect(e.message).toMatch(re);
    }
    const e = await loadError(join(work, 'no-such-dir'));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toMatch(/config\.json: cannot open/);
  });

  it('a shape mismatch from the config (latent_channels) is a WeightsError', async () => {
    const e = await loadError(tinyDecoderDir(tensors(), { ...tinyConfig, latent_channels: 16 }));
    expect(e).toBeInstanceOf(WeightsError);
    expect(e.message).toMatch(/decoder\.1\.weight.*expected \[16, 16, 3, 3\]/);
  });

  it('time upscaling switched off keeps the last TGrow rows (upstream patch_tgrow_layers)', async () => {
    const cfg = { ...tinyConfig, decoder_time_upscale: [false, false, true] };
    const auto = await loadDecoder(tinyDecoderDir(tensors(), cfg), { threads: 1 });
    const t = tensors();
    const w = t['decoder.13.conv.weight']!; // [16, 8, 1, 1] -> last 8 rows
    t['decoder.13.conv.weight'] = { shape: [8, 8, 1, 1], data: w.data.slice(64) };
    const manual = await loadDecoder(tinyDecoderDir(t, cfg), { threads: 1 });
    expect(auto.config.t_upscale).toBe(2);
    const lat = randoms(4 * 3 * 8 * 8, 21);
    const a = await auto.createStream().decodeF32(lat, 3, 8, 8);
    const b = await manual.createStream().decodeF32(lat, 3, 8, 8);
    expect(a.frames.length).toBe(3 * 2 - 1);
    a.frames.forEach((f, i) => expect(Buffer.compare(Buffer.from(f.buffer), Buffer.from(b.frames[i]!.buffer))).toBe(0));
    // rows that are not a multiple of n_f are still an error
    const t2 = tensors();
    t2['decoder.13.conv.weight'] = { shape: [12, 8, 1, 1], data: new Float32Array(96) };
    expect(await loadError(tinyDecoderDir(t2, cfg))).toBeInstanceOf(WeightsError);
    auto.close();
    manual.close();
  });

  it('loads F16 / BF16 checkpoints (converted to f32)', async () => {
    const dir = join(work, `d${dirs++}`);
    cpSync(tinyDir, dir, { recursive: true });
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(tensors(), 'F16'));
    const d = await loadDecoder(dir, { threads: 1 });
    const out = await d.createStream().decodeF32(g('tiny.block.0.latents').data, 3, 8, 8);
    const ref = g('tiny.block.0.frames');
    out.frames.forEach((f, i) => expect(relErr(f, goldenFrame(ref, i))).toBeLessThan(2e-2));
    d.close();
  });

  it('a closed decoder refuses new streams', async () => {
    const d = await loadDecoder(tinyDir, { threads: 1 });
    d.close();
    expect(() => d.createStream()).toThrow(ClosedError);
  });
});

// Geometry-conditioned decoders (config "geometry"; tools/reference/taehv.py GEOMETRY_CONVS):
// each plain conv (decoder.1, .8, .14, .20, .22) reads a per-frame map as extra input
// channels, average-pooled or repeated to its input size. Goldens of make_decoder_fixtures.py
// (--only geometry): geo_s2 (map at half the frame: pooled at .1 / .8, as is at .14, repeated
// at .20 / .22), geo_s8 (map at the latent size: repeated), geo_p2 (patch_size 2, one channel).
interface GeometryCase extends DecoderCase {
  geometry: { channels: number; scale: number; samples: number; near: number; height: number; width: number };
}
const geoMeta = JSON.parse(readFileSync(join(fixtures, 'golden', 'taehv_geometry.json'), 'utf8')) as { cases: GeometryCase[] };
const geoGolden = readSafetensors(join(fixtures, 'golden', 'taehv_geometry.safetensors')).tensors;
function gg(name: string): Tensor {
  const t = geoGolden.get(name);
  if (!t) throw new Error(`golden tensor ${name} missing`);
  return t;
}
/** The error a native call throws synchronously (its arguments are checked before anything is queued). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to throw');
}
/** Concatenate [F_i, ...] maps along the frame axis. */
function catMaps(maps: Float32Array[]): Float32Array {
  const out = new Float32Array(maps.reduce((a, m) => a + m.length, 0));
  let o = 0;
  for (const m of maps) {
    out.set(m, o);
    o += m.length;
  }
  return out;
}

describe('geometry decoder goldens', () => {
  const T = nativeTesting().decoderTesting;
  const cpu = nativeTesting().testing.cpu();
  const best = cpu.best;
  const isas = (['scalar', 'avx2', 'avx512'] as const).filter(
    (i) => i === 'scalar' || (i === 'avx2' && best !== 'scalar') || (i === 'avx512' && best === 'avx512'),
  );
  const bf16Fast = best === 'avx512' && cpu.features.split(/[ ,]+/).includes('avx512_bf16');
  const hasAmx = /amx_usable/.test(cpu.features);
  const blocksOf = (c: GeometryCase) =>
    c.blocks.map((F, b) => ({
      latents: gg(`${c.name}.block.${b}.latents`).data,
      frames: F,
      height: c.height,
      width: c.width,
      geometry: gg(`${c.name}.block.${b}.geometry`).data,
    }));
  const goldenFrames = (c: GeometryCase) =>
    c.blocks.flatMap((_, b) => Array.from({ length: c.frames_per_block[b]! }, (_, i) => goldenFrame(gg(`${c.name}.block.${b}.frames`), i)));

  for (const c of geoMeta.cases) {
    for (const isa of isas) {
      it(`${c.name} at ${isa} (f32): streamed blocks ${c.blocks} and the whole video match the reference within 1e-4`, () => {
        const dir = join(fixtures, c.dir);
        const want = goldenFrames(c);
        const blocks = blocksOf(c);
        const got = T.decode(dir, { isa }, blocks);
        expect(got.length).toBe(want.length);
        got.forEach((f, i) => expect(relErr(f, want[i]!), `frame ${i}`).toBeLessThan(TOL));
        // the whole video at once: the same frames bit for bit
        const C = c.latent_channels;
        const hw = c.height * c.width;
        const all = catFrames(blocks.map((b) => b.latents), c.blocks, C, hw);
        const whole = T.decode(dir, { isa }, [{ latents: all, frames: want.length, height: c.height, width: c.width, geometry: catMaps(blocks.map((b) => b.geometry)) }]);
        whole.forEach((f, i) => expect(Buffer.compare(Buffer.from(f.buffer), Buffer.from(got[i]!.buffer)), `frame ${i}`).toBe(0));
      });
    }
    const bf16Variants = bf16Fast ? (hasAmx ? [true, false] : [true]) : [];
    for (const amx of bf16Variants) {
      it(`${c.name} at avx512 bf16${hasAmx ? (amx ? ' (AMX)' : ' (VDPBF16PS)') : ''}: within bf16's rounding of the reference`, () => {
        const want = goldenFrames(c);
        const got = T.decode(join(fixtures, c.dir), { isa: 'avx512', precision: 'bf16', amx }, blocksOf(c));
        let worst = 0;
        got.forEach((f, i) => (worst = Math.max(worst, relErr(f, want[i]!))));
        expect(worst).toBeGreaterThan(TOL / 10); // it is bf16, not f32
        expect(worst).toBeLessThan(3e-2);
      });
    }
  }

  it('every conv reads the map: a map changed only where one conv sees it changes the frames', () => {
    // geo_s2's map is 16x12; decoder.1 sees its 4x4 block means, .8 its 2x2 means, .14 it as
    // is, .20 / .22 repeated. A pattern with zero 4x4 means but non-zero 2x2 means reaches
    // .8 onwards and not .1; with zero 2x2 means, .14 onwards only. Each of the three must
    // change the first frame (so dropping the map at one of those convs fails the goldens).
    const c = geoMeta.cases.find((x) => x.name === 'geo_s2')!;
    const { channels: G, height: hm, width: wm } = c.geometry;
    const lat = gg(`${c.name}.block.2.latents`).data;
    const base = gg(`${c.name}.block.2.geometry`).data;
    const dir = join(fixtures, c.dir);
    const ref = T.decode(dir, {}, [{ latents: lat, frames: 1, height: c.height, width: c.width, geometry: base }])[0]!;
    const patterns: [string, (y: number, x: number) => number][] = [
      ['zero 4x4 means', (y, x) => ((y >> 1) % 2 === (x >> 1) % 2 ? 0.25 : -0.25)],
      ['zero 2x2 means', (y, x) => ((y + x) % 2 ? 0.25 : -0.25)],
    ];
    for (const [what, p] of patterns) {
      const m = base.slice();
      for (let ch = 0; ch < G; ch++) for (let y = 0; y < hm; y++) for (let x = 0; x < wm; x++) m[(ch * hm + y) * wm + x]! += p(y, x);
      const out = T.decode(dir, {}, [{ latents: lat, frames: 1, height: c.height, width: c.width, geometry: m }])[0]!;
      expect(relErr(out, ref), what).toBeGreaterThan(1e-3);
    }
  });

  it('loads through the SDK: config and info report the geometry; decode / decodeF32 / decodeBlock take the maps', async () => {
    const c = geoMeta.cases[0]!;
    const d = await loadDecoder(join(fixtures, c.dir), { threads: 2 });
    const { height: _h, width: _w, ...spec } = c.geometry;
    expect(d.config.geometry).toEqual(spec);
    expect(d.info().geometry).toEqual(spec);
    const plain = await loadDecoder(tinyDir, { threads: 1 });
    expect(plain.info().geometry).toBeUndefined();
    expect(plain.config.geometry).toBeUndefined();
    plain.close();
    const s = d.createStream();
    const s8 = d.createStream();
    for (let b = 0; b < c.blocks.length; b++) {
      const lat = gg(`${c.name}.block.${b}.latents`).data;
      const geometry = gg(`${c.name}.block.${b}.geometry`).data;
      const out = await s.decodeF32(lat, c.blocks[b]!, c.height, c.width, { geometry });
      const out8 = await s8.decodeBlock({ latents: lat, frames: c.blocks[b]!, height: c.height, width: c.width }, { geometry });
      expect(out.frames.length).toBe(c.frames_per_block[b]);
      expect([out.height, out.width, out8.height, out8.width]).toEqual([c.out_height, c.out_width, c.out_height, c.out_width]);
      const ref = gg(`${c.name}.block.${b}.frames`);
      out.frames.forEach((f, i) => {
        const want = goldenFrame(ref, i);
        expect(relErr(f, want)).toBeLessThan(TOL);
        const bytes = out8.frames[i]!;
        const hw = c.out_height * c.out_width;
        let off = 0;
        for (let p = 0; p < hw; p++) for (let ch = 0; ch < 3; ch++) off = Math.max(off, Math.abs(bytes[p * 3 + ch]! - toByte(want[ch * hw + p]!)));
        expect(off).toBeLessThanOrEqual(1);
      });
    }
    await s.close();
    await s8.close();
    d.close();
  });

  it('a missing, extra or mis-sized map is an ArgumentError before anything is queued; the stream is untouched and usable', async () => {
    const c = geoMeta.cases[0]!;
    const d = await loadDecoder(join(fixtures, c.dir), { threads: 2 });
    const plain = await loadDecoder(tinyDir, { threads: 1 });
    const s = d.createStream();
    const lat = gg(`${c.name}.block.0.latents`).data;
    const geometry = gg(`${c.name}.block.0.geometry`).data;
    const F = c.blocks[0]!;
    const bad: [Promise<unknown>, RegExp][] = [
      [s.decodeF32(lat, F, c.height, c.width), /takes a geometry map per frame/],
      [s.decode(lat, F, c.height, c.width, {}), /takes a geometry map per frame/],
      [s.decodeF32(lat, F, c.height, c.width, { geometry: geometry.subarray(1) }), /has \d+ values, expected \d+ \(3 frames x 3 x 16 x 12\)/],
      [s.decodeF32(lat, F, c.height, c.width, { geometry: new Float32Array(geometry.length + 12) }), /expected/],
      [s.decodeF32(lat, F, c.height, c.width, { geometry: Array.from(geometry) as unknown as Float32Array }), /must be a Float32Array/],
      [s.decodeF32(lat, F, c.height, c.width, 7 as never), /options must be an object/],
      [s.decodeBlock({ latents: lat, frames: F, height: c.height, width: c.width }), /takes a geometry map per frame/],
    ];
    for (const [p, re] of bad) {
      const e = await p.then(() => null, (x: unknown) => x as Error);
      expect(e).toBeInstanceOf(ArgumentError);
      expect((e as ArgumentError).code).toBe('ARGUMENT');
      expect(e!.message).toMatch(re);
    }
    // the native call refuses them too (the SDK's check is not the only one)
    const nat = nativeTesting();
    const nd = new nat.Decoder(join(fixtures, c.dir), { threads: 1 });
    const ns = nd.createStream();
    expect(thrown(() => ns.decodeF32(lat, F, c.height, c.width))).toMatchObject({ code: 'ARGUMENT' });
    expect(thrown(() => ns.decodeF32(lat, F, c.height, c.width, { geometry: geometry.subarray(3) }))).toMatchObject({ code: 'ARGUMENT' });
    const pnd = new nat.Decoder(tinyDir, { threads: 1 });
    expect(thrown(() => pnd.createStream().decodeF32(randoms(4 * 8 * 8, 1), 1, 8, 8, { geometry: new Float32Array(1) }))).toMatchObject({
      code: 'ARGUMENT',
      message: expect.stringMatching(/takes no geometry map/),
    });
    expect((await ns.stats()).latentFrames).toBe(0);
    // NaN in the map: refused on the engine thread before the stream changes
    const nan = geometry.slice();
    nan[5] = NaN;
    await expect(s.decodeF32(lat, F, c.height, c.width, { geometry: nan })).rejects.toThrow(/geometry map contains NaN/);
    // a plain decoder refuses a map
    const ps = plain.createStream();
    await expect(ps.decodeF32(randoms(4 * 8 * 8, 1), 1, 8, 8, { geometry: new Float32Array(3 * 16 * 16) })).rejects.toThrow(ArgumentError);
    expect((await ps.stats()).latentFrames).toBe(0);
    // nothing reached the stream: it starts at frame 0 and streams the goldens
    expect((await s.stats()).latentFrames).toBe(0);
    expect(d.totals.latentFrames).toBe(0);
    const out = await s.decodeF32(lat, F, c.height, c.width, { geometry });
    out.frames.forEach((f, i) => expect(relErr(f, goldenFrame(gg(`${c.name}.block.0.frames`), i))).toBeLessThan(TOL));
    await s.close();
    await ps.close();
    d.close();
    plain.close();
    nd.close();
    pnd.close();
  });

  it('the map is resized once per size per frame into the workspace, counted in workspaceBytes', async () => {
    // A decoder's weights at another scale (the same G: the same tensors) change only which
    // conv input sizes need a resized copy of the map, so the workspace differs by exactly those.
    const bytes = async (c: GeometryCase, scale: number) => {
      const cfg = JSON.parse(readFileSync(join(fixtures, c.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      const dir = join(work, `${c.name}_scale${scale}`);
      cpSync(join(fixtures, c.dir), dir, { recursive: true });
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, geometry: { channels: c.geometry.channels, scale } }));
      const d = await loadDecoder(dir, { threads: 1 });
      const s = d.createStream();
      const ss = d.config.space_scale;
      const hm = (c.height * ss) / scale, wm = (c.width * ss) / scale;
      await s.decodeF32(randoms(4 * c.height * c.width, 3), 1, c.height, c.width, { geometry: randoms(c.geometry.channels * hm * wm, 4) });
      const st = await s.stats();
      d.close();
      return st.workspaceBytes;
    };
    // geo_s2 (4x3 latents; conv inputs of hw, 4hw, 16hw, 64hw pixels, G = 3): at scale 2 the
    // map is 16hw (copies at .1, .8, .20), at scale 8 it is hw (copies at .8, .14, .20)
    const s2 = geoMeta.cases.find((x) => x.name === 'geo_s2')!;
    let hw = s2.height * s2.width;
    expect((await bytes(s2, 2)) - (await bytes(s2, 8))).toBe(3 * 4 * (hw + 4 * hw + 64 * hw - (4 * hw + 16 * hw + 64 * hw)));
    // geo_p2 (3x2 latents, space upscaling [T, T, F]: .14 and .20 share a size, G = 1): at
    // scale 4 the map is 4hw (copies at .1 and one for .14 / .20), at scale 2 16hw (.1, .8)
    const p2 = geoMeta.cases.find((x) => x.name === 'geo_p2')!;
    hw = p2.height * p2.width;
    expect((await bytes(p2, 4)) - (await bytes(p2, 2))).toBe(1 * 4 * (hw + 16 * hw - (hw + 4 * hw)));
  });
});

describe('geometry decoder config and weights', () => {
  const T = nativeTesting().decoderTesting;
  const geoDir = join(fixtures, 'taehv_geo_s2');
  const geoConfig = JSON.parse(readFileSync(join(geoDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const geoTensors = decodeSafetensors(readFileSync(join(geoDir, 'model.safetensors'))).tensors;
  const tinyTensors = decodeSafetensors(readFileSync(join(tinyDir, 'model.safetensors'))).tensors;

  it('parses the geometry key with its defaults and reports it', () => {
    const base = { latent_channels: 4, n_f: [8, 8, 8, 8], decoder_time_upscale: [false, false, false] };
    expect(T.parseConfig(JSON.stringify({ ...base, geometry: { channels: 5 } })).geometry).toEqual({ channels: 5, scale: 1, samples: 1, near: 8 });
    expect(T.parseConfig(JSON.stringify({ ...base, geometry: { channels: 2, scale: 16, samples: 3, near: 0.5 } })).geometry).toEqual({ channels: 2, scale: 16, samples: 3, near: 0.5 });
    expect(T.parseConfig(JSON.stringify({ ...base, geometry: null })).geometry).toBeUndefined();
    expect(T.parseConfig(JSON.stringify(base)).geometry).toBeUndefined();
  });

  it('bad geometry configs are ConfigErrors naming the key', async () => {
    const base = { ...geoConfig };
    const bad: [unknown, RegExp][] = [
      [{ ...base, geometry: 3 }, /"geometry" must be an object/],
      [{ ...base, geometry: [3] }, /"geometry" must be an object/],
      [{ ...base, geometry: { scale: 2 } }, /"geometry" needs "channels"/],
      [{ ...base, geometry: { channels: 0 } }, /geometry\.channels.*integer in \[1, 1024\]/],
      [{ ...base, geometry: { channels: 1.5 } }, /geometry\.channels/],
      [{ ...base, geometry: { channels: '3' } }, /geometry\.channels/],
      [{ ...base, geometry: { channels: 3, scale: 0 } }, /geometry\.scale/],
      [{ ...base, geometry: { channels: 3, scale: 3 } }, /geometry\.scale" 3.*no integer resize of decoder\.1's input/],
      [{ ...base, geometry: { channels: 3, scale: 2.5 } }, /geometry\.scale/],
      [{ ...base, geometry: { channels: 3, samples: 0 } }, /geometry\.samples/],
      [{ ...base, geometry: { channels: 3, samples: 'many' } }, /geometry\.samples/],
      [{ ...base, geometry: { channels: 3, near: 0 } }, /geometry\.near.*> 0/],
      [{ ...base, geometry: { channels: 3, near: -2 } }, /geometry\.near/],
      [{ ...base, geometry: { channels: 3, near: '8' } }, /geometry\.near/],
      [{ ...base, decoder_time_upscale: [false, true] }, /takes "geometry" has no time upscaling/],
      [{ ...base, decoder_time_upscale: [true, false, false] }, /no time upscaling/],
    ];
    for (const [cfg, re] of bad) {
      const e = await loadError(decoderDir(geoTensors, cfg));
      expect(e, JSON.stringify(cfg)).toBeInstanceOf(ConfigError);
      expect(e.message, JSON.stringify(cfg)).toMatch(re);
    }
    // scale 6 with 3 upscalings (8 frame pixels per latent pixel): 8/6 at decoder.1 is no integer factor
    expect(() => T.parseConfig(JSON.stringify({ ...base, geometry: { channels: 1, scale: 6 } }))).toThrow(/no integer resize/);
    // scale 16: a map at half the latent size, repeated everywhere (valid for even latent sizes)
    expect(T.parseConfig(JSON.stringify({ ...base, geometry: { channels: 1, scale: 16 } })).geometry?.scale).toBe(16);
  });

  it('mis-shaped weights are WeightsErrors: each plain conv takes G more input channels', async () => {
    // a plain decoder's weights under a geometry config
    const tinyCfg = JSON.parse(readFileSync(join(tinyDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const e1 = await loadError(decoderDir(tinyTensors, { ...tinyCfg, decoder_time_upscale: [false, false, false], geometry: { channels: 2 } }));
    expect(e1).toBeInstanceOf(WeightsError);
    expect(e1.message).toMatch(/decoder\.1\.weight.*\[16, 4, 3, 3\].*expected \[16, 6, 3, 3\]/);
    // a geometry decoder's weights without the key
    const { geometry: _g, ...noGeo } = geoConfig;
    const e2 = await loadError(decoderDir(geoTensors, noGeo));
    expect(e2).toBeInstanceOf(WeightsError);
    expect(e2.message).toMatch(/decoder\.1\.weight.*\[8, 7, 3, 3\].*expected \[8, 4, 3, 3\]/);
    // one conv's weight without the extra channels
    for (const name of ['decoder.8.weight', 'decoder.14.weight', 'decoder.20.weight', 'decoder.22.weight']) {
      const t = new Map(geoTensors);
      const w = t.get(name)!;
      t.set(name, { shape: [w.shape[0]!, w.shape[1]! - 3, 3, 3], data: new Float32Array(w.shape[0]! * (w.shape[1]! - 3) * 9) });
      const e = await loadError(decoderDir(t, geoConfig));
      expect(e, name).toBeInstanceOf(WeightsError);
      expect(e.message).toMatch(new RegExp(`${name.replace(/\./g, '\\.')}.*expected \\[${w.shape[0]}, ${w.shape[1]}, 3, 3\\]`));
    }
  });

  it('a latent size whose frame is not a multiple of the scale is a ConfigError at the first decode; the stream stays usable', async () => {
    // geo_s8's weights at scale 16: a map of half the latent size, so latents must be even
    const cfg = JSON.parse(readFileSync(join(fixtures, 'taehv_geo_s8', 'config.json'), 'utf8')) as Record<string, unknown>;
    const t = decodeSafetensors(readFileSync(join(fixtures, 'taehv_geo_s8', 'model.safetensors'))).tensors;
    const d = await loadDecoder(decoderDir(t, { ...cfg, geometry: { channels: 2, scale: 16 } }), { threads: 1 });
    const s = d.createStream();
    await expect(s.decodeF32(randoms(4 * 3 * 5, 1), 1, 3, 5, { geometry: new Float32Array(2) })).rejects.toThrow(ConfigError);
    await expect(s.decodeF32(randoms(4 * 3 * 5, 1), 1, 3, 5, { geometry: new Float32Array(2) })).rejects.toThrow(/scale 16 does not divide the frame size 24x40/);
    const nat = new (nativeTesting().Decoder)(decoderDir(t, { ...cfg, geometry: { channels: 2, scale: 16 } }), { threads: 1 });
    expect(thrown(() => nat.createStream().decodeF32(randoms(4 * 3 * 5, 1), 1, 3, 5, { geometry: new Float32Array(2) }))).toMatchObject({ code: 'CONFIG' });
    nat.close();
    expect((await s.stats()).latentFrames).toBe(0);
    const ok = await s.decodeF32(randoms(4 * 2 * 4, 1), 1, 2, 4, { geometry: randoms(2 * 1 * 2, 2) });
    expect([ok.frames.length, ok.height, ok.width]).toEqual([1, 16, 32]);
    await s.close();
    d.close();
  });
});

// Optional: the engine against upstream's own taehv.py at upstream's real widths
// (n_f = [256, 128, 64, 64]), from `check_taehv_upstream.py --dump DIR` (see tools/README.md).
const upstreamDump = process.env.WORLDCAST_TAEHV_UPSTREAM;
describe.skipIf(!upstreamDump)('decoder vs upstream taehv.py (WORLDCAST_TAEHV_UPSTREAM)', () => {
  const dir = upstreamDump ?? '';
  const variants = upstreamDump ? readdirSync(dir).filter((v) => existsSync(join(dir, v, 'upstream.json'))) : [];
  for (const v of variants) {
    it(`${v}: streamed blocks match upstream decode_video within 1e-4`, async () => {
      const info = JSON.parse(readFileSync(join(dir, v, 'upstream.json'), 'utf8')) as {
        blocks: number[]; height: number; width: number; latent_channels: number;
      };
      const t = readSafetensors(join(dir, v, 'upstream.safetensors')).tensors;
      const lat = t.get('latents')!;
      const ref = t.get('frames')!;
      const d = await loadDecoder(join(dir, v, 'decoder'), { threads: 2 });
      const s = d.createStream();
      const T = lat.shape[1]!;
      const hw = info.height * info.width;
      const got: Float32Array[] = [];
      let f0 = 0;
      for (const F of info.blocks) {
        got.push(...(await s.decodeF32(sliceFrames(lat.data, info.latent_channels, T, hw, f0, F), F, info.height, info.width)).frames);
        f0 += F;
      }
      expect(got.length).toBe(ref.shape[0]);
      let worst = 0;
      got.forEach((f, i) => (worst = Math.max(worst, relErr(f, goldenFrame(ref, i)))));
      console.log(`${v}: ${got.length} frames, max error ${worst.toExponential(2)} of the scale`);
      expect(worst).toBeLessThan(TOL);
      d.close();
    });
  }
});

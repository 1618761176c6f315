// Sessions through the SDK: the block loop's determinism, its conditioning inputs,
// the engine thread (Promises, ordering, a free event loop) and clear errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ArgumentError, ClosedError, ShapeError, loadModel, type Model } from '../sdk/src/index.js';
import { nativeTesting } from './helpers/native_testing.js';
import { goldenCases, goldenTensors, randoms, relErr, tensor, tinyDir } from './helpers/fixtures.js';

let model: Model;
const g = goldenTensors(goldenCases().cases[0]!);
const prompt0 = tensor(g, 'prompt.0');
const prompt1 = tensor(g, 'prompt.1');

beforeAll(async () => {
  model = await loadModel(tinyDir, { threads: 2, kv: { dtype: 'f32' } });
});
afterAll(() => model.close());

function actions(seed: number): Float32Array {
  // 3 frames × (5 keys + 2 mouse axes)
  return randoms(21, seed).map((v, i) => (i % 7 < 5 ? (v > 0 ? 1 : 0) : v));
}

async function rollout(opts: { seed: number; blocks: number; act?: (b: number) => Float32Array | undefined }): Promise<Float32Array[]> {
  const s = model.createSession({ seed: opts.seed, prompt: prompt0 });
  const out: Float32Array[] = [];
  for (let b = 0; b < opts.blocks; b++) out.push((await s.step({ actions: opts.act?.(b) })).latents);
  await s.close();
  return out;
}

describe('block loop', () => {
  it('is deterministic for a seed and differs across seeds', async () => {
    const a = await rollout({ seed: 7, blocks: 3 });
    const b = await rollout({ seed: 7, blocks: 3 });
    const c = await rollout({ seed: 8, blocks: 3 });
    a.forEach((x, i) => expect(relErr(x, b[i]!)).toBe(0));
    expect(relErr(a[0]!, c[0]!)).toBeGreaterThan(1e-2);
  });

  it('gives the same blocks at any thread count', async () => {
    const two = await rollout({ seed: 3, blocks: 3 });
    for (const threads of [1, 3, 4]) {
      const m = await loadModel(tinyDir, { threads, kv: { dtype: 'f32' } });
      const s = m.createSession({ seed: 3, prompt: prompt0 });
      for (const ref of two) expect(relErr((await s.step()).latents, ref), `${threads} threads`).toBeLessThan(1e-6);
      await s.close();
      m.close();
    }
  });

  it('actions steer each frame of the block (and only from the block they are given in)', async () => {
    const base = await rollout({ seed: 1, blocks: 2 });
    const steered = await rollout({ seed: 1, blocks: 2, act: (b) => (b === 1 ? actions(5) : undefined) });
    expect(relErr(steered[0]!, base[0]!)).toBe(0);
    expect(relErr(steered[1]!, base[1]!)).toBeGreaterThan(1e-3);
    // zero actions are the same as no actions
    const zeros = await rollout({ seed: 1, blocks: 1, act: () => new Float32Array(21) });
    expect(relErr(zeros[0]!, base[0]!)).toBe(0);
  });

  it('a prompt change applies from the next block and drops the cross-attention cache', async () => {
    const s = model.createSession({ seed: 2, prompt: prompt0 });
    const first = s.step();
    const change = s.setPrompt(prompt1); // submitted while block 0 may be running
    const b0 = await first;
    await change;
    const b1 = await s.step();
    await s.close();

    const ref = model.createSession({ seed: 2, prompt: prompt0 });
    const r0 = await ref.step();
    const r1same = await ref.step(); // block 1 with the old prompt
    await ref.close();
    expect(relErr(b0.latents, r0.latents)).toBe(0);
    expect(relErr(b1.latents, r1same.latents)).toBeGreaterThan(1e-3);

    const ref2 = model.createSession({ seed: 2, prompt: prompt0 });
    await ref2.step();
    await ref2.setPrompt(prompt1);
    expect(relErr((await ref2.step()).latents, b1.latents)).toBe(0);
    await ref2.close();
  });

  it('reports timings per stage and the block geometry', async () => {
    const s = model.createSession({ prompt: prompt0 });
    const b = await s.step();
    expect([b.frames, b.channels, b.height, b.width, b.forwards]).toEqual([3, 4, 8, 8, 5]);
    expect(b.latents.length).toBe(4 * 3 * 8 * 8);
    expect(b.times.gemm).toBeGreaterThan(0);
    expect(b.times.attention).toBeGreaterThan(0);
    expect(b.seconds).toBeGreaterThan(0);
    const st = await s.stats();
    expect(st.nextFrame).toBe(3);
    expect(st.kvFrames).toBe(3);
    expect(st.kvBytes).toBe(3 * 2 * 2 * 16 * 64 * 4); // frames × layers × (k,v) × tokens × dim × f32
    await s.close();
  });

  it('commit() prefills known frames that later blocks attend to', async () => {
    const x0 = randoms(4 * 3 * 8 * 8, 9);
    const a = model.createSession({ seed: 4, prompt: prompt0 });
    await a.commit(x0);
    const withPrefix = await a.step();
    expect(withPrefix.frameStart).toBe(3);
    await a.close();
    const b = model.createSession({ seed: 4, prompt: prompt0 });
    await b.commit(randoms(4 * 3 * 8 * 8, 10));
    expect(relErr((await b.step()).latents, withPrefix.latents)).toBeGreaterThan(1e-3);
    await b.close();
  });

  it('a window drops frames nobody can see again; memory stays flat', async () => {
    const s = model.createSession({ seed: 5, prompt: prompt0, localAttnSize: 6, sinkSize: 1 });
    const held: number[] = [];
    for (let b = 0; b < 6; b++) {
      await s.step();
      held.push((await s.stats()).kvFrames);
    }
    expect(held).toEqual([3, 3, 3, 3, 3, 3]); // sink + 2 recent frames remain visible to the next block
    await s.close();
  });

  it('every SIMD level gives the same blocks', async () => {
    // setIsa lives in the test addon and flips the ISA of that addon's own copy of the engine
    // (the shipped addon, which the SDK loads, has its own globals and no setIsa): so the
    // models at each level are the test addon's, run through its raw Model/Session, and the
    // reference is the SDK's model (shipped addon, best level). Same engine source, two copies.
    const TA = nativeTesting();
    const T = TA.testing;
    const levels = ['scalar', 'avx2', 'avx512'] as const;
    const best = T.cpu().best as (typeof levels)[number];
    const ref = await rollout({ seed: 11, blocks: 2 });
    const active = T.cpu().active as (typeof levels)[number];
    try {
      for (const isa of levels.slice(0, levels.indexOf(best) + 1)) {
        expect(T.setIsa(isa)).toBe(isa);
        const m = new TA.Model(tinyDir, { threads: 2, kv: { dtype: 'f32' } });
        expect(m.info().isa).toBe(isa);
        const s = m.createSession({ seed: 11 });
        await s.setPrompt(prompt0);
        for (const r of ref) expect(relErr((await s.step()).x0, r), isa).toBeLessThan(1e-5);
        await s.close();
        m.close();
        // the test addon's ISA does not reach models made through the SDK (shipped addon)
        const sdkModel = await loadModel(tinyDir, { threads: 1, kv: { dtype: 'f32' } });
        expect(sdkModel.info().isa).toBe(model.info().isa);
        sdkModel.close();
      }
    } finally {
      T.setIsa(active);
    }
  });
});

describe('engine thread', () => {
  it('step() returns at once and the event loop keeps running while blocks compute', async () => {
    // 32×32 latents (16× the tiny default) so the blocks take longer than the 1-ms timer:
    // at 8×8 four blocks could finish before it first fired (seen once in a CI-like run)
    const s = model.createSession({ seed: 1, prompt: prompt0, latentHeight: 32, latentWidth: 32 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const t0 = performance.now();
    const pending = [s.step(), s.step(), s.step(), s.step()];
    expect(performance.now() - t0).toBeLessThan(50); // submitting does not compute
    const blocks = await Promise.all(pending);
    clearInterval(timer);
    expect(blocks.map((b) => b.frameStart)).toEqual([0, 3, 6, 9]); // in submission order
    expect(ticks).toBeGreaterThan(0);
    await s.close();
  });

  it('sessions of one model interleave without affecting each other', async () => {
    const solo = await rollout({ seed: 21, blocks: 2 });
    const a = model.createSession({ seed: 21, prompt: prompt0 });
    const b = model.createSession({ seed: 22, prompt: prompt1 });
    const res = await Promise.all([a.step(), b.step(), a.step(), b.step()]);
    expect(relErr(res[0]!.latents, solo[0]!)).toBe(0);
    expect(relErr(res[2]!.latents, solo[1]!)).toBe(0);
    await Promise.all([a.close(), b.close()]);
  });
});

describe('errors', () => {
  it('bad actions, noise, prompts and latents are typed errors and the session keeps working', async () => {
    const s = model.createSession({ seed: 1, prompt: prompt0 });
    await expect(s.step({ actions: new Float32Array(20) })).rejects.toThrow(ShapeError);
    await expect(s.step({ actions: new Float32Array(21).fill(NaN) })).rejects.toThrow(/NaN/);
    await expect(s.step({ actions: [1, 2] as unknown as Float32Array })).rejects.toThrow(ArgumentError);
    await expect(s.step({ noise: [new Float32Array(768)] })).rejects.toThrow(/noise has 1 tensors, expected 4/);
    await expect(s.step({ noise: Array.from({ length: 4 }, () => new Float32Array(767)) })).rejects.toThrow(ShapeError);
    await expect(s.setPrompt(new Float32Array(33))).rejects.toThrow(/not a multiple of text_dim 32/);
    await expect(s.setPrompt(new Float32Array(9 * 32))).rejects.toThrow(/at most text_len = 8/);
    await expect(s.probe(new Float32Array(768), new Float32Array([1, 2, 3000]))).rejects.toThrow(/timestep out of range/);
    await expect(s.commit(new Float32Array(768).fill(Infinity))).rejects.toThrow(/NaN or infinity/);
    await expect(s.setWindow(4, 1)).rejects.toThrow(/must exceed sink_size/);
    const ok = await s.step();
    expect(ok.frameStart).toBe(0); // nothing above advanced the session
    await s.close();
  });

  it('bad session options are refused up front', () => {
    expect(() => model.createSession({ seed: -1 })).toThrow(ArgumentError);
    expect(() => model.createSession({ latentHeight: 7 })).toThrow(/multiple of the patch size/);
    expect(() => model.createSession({ localAttnSize: 2 })).toThrow(/local_attn_size/);
  });

  it('closed sessions and models say so', async () => {
    const m = await loadModel(tinyDir, { threads: 1 });
    const s = m.createSession();
    const pending = s.step();
    await s.close();
    await pending; // work submitted before close completes
    await expect(s.step()).rejects.toThrow(ClosedError);
    expect(s.closed).toBe(true);
    m.close();
    expect(() => m.createSession()).toThrow(ClosedError);
  });
});

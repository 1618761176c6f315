// Blocks of several sizes in one session (createSession's minBlockFrames + step({frames})):
// a block of F frames sees the window's local_attn_size − sink − F frames before it, so a
// session of the model's blocks stepping blocks of 1 is the model loaded with blockFrames 1,
// one stepping its full blocks is the plain session, and sizes mix freely in one session and
// in one batch. The reference semantics of a mixed session are the golden case mixed_blocks
// (golden.test.ts); this file checks the equivalences, the KV reservation and the refusals.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ArgumentError, KvBudgetError, loadModel, type Model } from '../sdk/src/index.js';
import { fixtures, goldenCases, goldenTensors, randoms, relErr, tensor, tinyDir } from './helpers/fixtures.js';

const g = goldenTensors(goldenCases().cases[0]!);
const prompt = tensor(g, 'prompt.0');
const PAGE_F32 = 2 * 2 * 16 * 64 * 4; // tiny: 2 layers × K,V × 16 tokens × dim 64 × f32
const CROSS = 2 * 2 * 8 * 64 * 4;
const act = (frames: number, k: number) => randoms(7 * frames, 100 + k).map((v, i) => (i % 7 < 5 ? (v > 0 ? 1 : 0) : v));

let model: Model; // blocks of 3
let ones: Model; // the same weights, blockFrames 1
const tmp = mkdtempSync(join(tmpdir(), 'wc-block-sizes-'));
beforeAll(async () => {
  model = await loadModel(tinyDir, { threads: 2, kv: { dtype: 'f32' } });
  ones = await loadModel(tinyDir, { threads: 2, kv: { dtype: 'f32' }, blockFrames: 1 });
});
afterAll(() => {
  model.close();
  ones.close();
  rmSync(tmp, { recursive: true, force: true });
});

const same = (a: Float32Array, b: Float32Array) => expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))).toBe(true);

describe('blocks of several sizes', () => {
  for (const foldCommit of [false, true])
    it(`blocks of 1 in a session of 3-frame blocks are the blockFrames 1 model's, bit for bit${foldCommit ? ' (commits folded)' : ''}`, async () => {
      const w = { localAttnSize: 6, sinkSize: 1, foldCommit };
      const a = model.createSession({ seed: 4, prompt, minBlockFrames: 1, ...w });
      const b = ones.createSession({ seed: 4, prompt, ...w });
      expect(a.layout.minFrames).toBe(1);
      expect(a.layout.frames).toBe(3);
      for (let k = 0; k < 9; k++) {
        const x = await a.step({ actions: act(1, k), frames: 1 });
        const y = await b.step({ actions: act(1, k) });
        expect(x.frames).toBe(1);
        expect(x.frameStart).toBe(k);
        same(x.latents, y.latents);
        if (!foldCommit) expect(a.kvPages().map((p) => p.frame)).toEqual(b.kvPages().map((p) => p.frame));
      }
      await a.close();
      await b.close();
    });

  it('full blocks in a session that also takes smaller ones are the plain session, bit for bit, holding the frames a 1-frame block would reach', async () => {
    const a = model.createSession({ seed: 8, prompt, localAttnSize: 7, sinkSize: 1, minBlockFrames: 1 });
    const b = model.createSession({ seed: 8, prompt, localAttnSize: 7, sinkSize: 1 });
    for (let k = 0; k < 5; k++) {
      same((await a.step({ actions: act(3, k) })).latents, (await b.step({ actions: act(3, k) })).latents);
      const next = 3 * (k + 1);
      // plain: sink 0 + the 3 frames before a 3-frame block; min 1: the 5 before a 1-frame block
      expect(b.kvPages().map((p) => p.frame)).toEqual([0, ...range(Math.max(1, next - 3), next)]);
      expect(a.kvPages().map((p) => p.frame)).toEqual([0, ...range(Math.max(1, next - 5), next)]);
    }
    await a.close();
    await b.close();
  });

  it('mixed sizes batch: one stepMany of sessions at different block sizes equals each alone', async () => {
    const sizes = [[1, 3], [3, 2], [2, 1], [1, 1], [3, 3], [2, 3]];
    const solo = [0, 1].map((i) => model.createSession({ seed: 20 + i, prompt, localAttnSize: 8, sinkSize: 1, minBlockFrames: 1, foldCommit: i === 1 }));
    const batched = [0, 1].map((i) => model.createSession({ seed: 20 + i, prompt, localAttnSize: 8, sinkSize: 1, minBlockFrames: 1, foldCommit: i === 1 }));
    for (let k = 0; k < sizes.length; k++) {
      const [f0, f1] = sizes[k]!;
      const one = [await solo[0]!.step({ actions: act(f0!, k), frames: f0 }), await solo[1]!.step({ actions: act(f1!, k + 50), frames: f1 })];
      const many = await model.stepMany([
        { session: batched[0]!, actions: act(f0!, k), frames: f0 },
        { session: batched[1]!, actions: act(f1!, k + 50), frames: f1 },
      ]);
      many.forEach((r, i) => {
        if (r instanceof Error) throw r;
        expect(r.frames).toBe(sizes[k]![i]);
        expect(relErr(r.latents, one[i]!.latents), `block ${k} session ${i}`).toBeLessThan(1e-5); // as batch.test.ts: GEMM tiling differs
      });
    }
    // the folded session's last commit, run by commitPending, lands on the same pages
    const pending = await model.commitPending(batched);
    expect(pending.committed).toBe(1);
    const after = [await batched[1]!.step({ actions: act(2, 99), frames: 2 }), await solo[1]!.step({ actions: act(2, 99), frames: 2 })];
    expect(relErr(after[0]!.latents, after[1]!.latents)).toBeLessThan(1e-5);
    for (const s of [...solo, ...batched]) await s.close();
  });

  it('reserves the pages a 1-frame block could reach, and says so when refused', async () => {
    // local_attn_size 7, sink 1: blocks of 3 hold 1 + 3 + 3 pages; down to 1, 1 + 5 + 3
    const quota = 9 * PAGE_F32 + CROSS;
    const m = await loadModel(tinyDir, { threads: 1, kv: { budgetBytes: quota + 1000, dtype: 'f32' } });
    try {
      const a = m.createSession({ seed: 1, prompt, localAttnSize: 7, sinkSize: 1, minBlockFrames: 1 });
      for (let k = 0; k < 6; k++) await a.step({ frames: 1 + (k % 3) }); // runs forever within its quota
      expect(() => m.createSession({ localAttnSize: 7, sinkSize: 1 })).toThrow(KvBudgetError);
      await a.close();
      const b = m.createSession({ seed: 1, prompt, localAttnSize: 7, sinkSize: 1, minBlockFrames: 1 }); // freed again
      await b.close();
    } finally {
      m.close();
    }
  });

  it('commit and probe take any block size of the session (x0 / t give it)', async () => {
    const a = model.createSession({ seed: 3, prompt, minBlockFrames: 1 });
    const b = ones.createSession({ seed: 3, prompt });
    const x0 = randoms(4 * 1 * 64, 7);
    await a.commit(x0, act(1, 0));
    await b.commit(x0, act(1, 0));
    const x = randoms(4 * 64, 8);
    same(await a.probe(x, new Float32Array([500]), act(1, 1)), await b.probe(x, new Float32Array([500]), act(1, 1)));
    same((await a.step({ frames: 1 })).latents, (await b.step()).latents);
    expect((await a.step({ frames: 2 })).frameStart).toBe(2);
    await a.close();
    await b.close();
  });

  it('refuses what the session cannot step, with a clear error, and changes nothing', async () => {
    const plain = model.createSession({ seed: 1, prompt });
    const a = model.createSession({ seed: 1, prompt, minBlockFrames: 2 });
    for (const frames of [0, 4, 1.5, -1, NaN, '2' as unknown as number])
      await expect(a.step({ frames })).rejects.toThrow(ArgumentError);
    await expect(a.step({ frames: 1 })).rejects.toThrow(/frames must be an integer in 2\.\.3/);
    await expect(plain.step({ frames: 1 })).rejects.toThrow(/minBlockFrames allows smaller blocks/);
    await expect(a.step({ frames: 2, actions: act(3, 0) })).rejects.toThrow(/actions/);
    await expect(a.step({ frames: 2, noise: [0, 1, 2, 3].map(() => new Float32Array(4 * 3 * 64)) })).rejects.toThrow(/noise/);
    await expect(a.probe(new Float32Array(4 * 64), new Float32Array([500]))).rejects.toThrow(/t's length/);
    await expect(a.commit(new Float32Array(4 * 64 + 1))).rejects.toThrow(/whole latent frames/);
    const r = await model.stepMany([{ session: a, frames: 1 }]).catch((e: unknown) => e);
    expect(r).toBeInstanceOf(ArgumentError);
    expect((await a.stats()).kvFrames).toBe(0); // nothing ran
    expect((await a.step({ frames: 2 })).frames).toBe(2);
    for (const bad of [0, 4, 1.5])
      expect(() => model.createSession({ minBlockFrames: bad })).toThrow(/minBlockFrames must be an integer in \[1, 3\]/);
    await a.close();
    await plain.close();
  });

  it('is refused for schedules and action modules that take one block size', async () => {
    const dir = join(tmp, 'staggered');
    mkdirSync(dir, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(tinyDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, schedule: { type: 'staggered', window: 2 } }));
    copyFileSync(join(tinyDir, 'model.safetensors'), join(dir, 'model.safetensors'));
    const stag = await loadModel(dir, { threads: 1 });
    const mg = await loadModel(join(fixtures, 'mg2_tiny'), { threads: 1 });
    try {
      expect([model.minBlockFrames, stag.minBlockFrames, mg.minBlockFrames]).toEqual([1, 3, 3]);
      expect(() => stag.createSession({ minBlockFrames: 1 })).toThrow(/staggered schedule takes blocks of 3 frames only/);
      expect(() => mg.createSession({ minBlockFrames: 1 })).toThrow(/matrix_game action module takes blocks of 3 frames only/);
      (await Promise.resolve(stag.createSession({ minBlockFrames: 3 }))).close(); // its own size is fine
    } finally {
      stag.close();
      mg.close();
    }
  });

  it('geometry models: the map is of the block frames given', async () => {
    const geo = await loadModel(join(fixtures, 'tiny_geometry'), { threads: 2, kv: { dtype: 'f32' } });
    const geo1 = await loadModel(join(fixtures, 'tiny_geometry'), { threads: 2, kv: { dtype: 'f32' }, blockFrames: 1 });
    try {
      const a = geo.createSession({ seed: 2, minBlockFrames: 1 });
      const b = geo1.createSession({ seed: 2 });
      const per = a.layout.geometrySize / 3;
      const n = a.layout.actionSize;
      for (let k = 0; k < 4; k++) {
        const map = randoms(per, 40 + k);
        const actions = randoms(n, 60 + k);
        same((await a.step({ frames: 1, actions, geometry: map })).latents, (await b.step({ actions, geometry: map })).latents);
      }
      await expect(a.step({ frames: 2, actions: randoms(2 * n, 1), geometry: randoms(per, 1) })).rejects.toThrow(/geometry/);
      await a.close();
      await b.close();
    } finally {
      geo.close();
      geo1.close();
    }
  });
});

function range(a: number, b: number): number[] {
  return Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
}

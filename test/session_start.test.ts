// createSession's start (prompt, opening commits) runs in the background; its failure is
// never dropped: the session's next call rejects with it (a NaN opening, an opening over
// the KV budget), every later call too, and close() still frees the session.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ArgumentError, KvBudgetError, loadModel, type Model } from '../sdk/src/index.js';
import { tinyDir } from './helpers/fixtures.js';

const PAGE_F32 = 2 * 2 * 16 * 64 * 4; // tiny model: 2 layers × K,V × 16 tokens × dim 64, f32
const CROSS = 2 * 2 * 8 * 64 * 4;
const C = 4, H = 8, W = 8, F = 3;
const prompt = new Float32Array(5 * 32).fill(0.1);

function opening(blocks: number, fill = 0.05): Float32Array {
  return new Float32Array(C * blocks * F * H * W).fill(fill);
}

let model: Model;
beforeAll(async () => {
  model = await loadModel(tinyDir, { threads: 1, kv: { dtype: 'f32' } });
});
afterAll(() => model.close());

describe('a session whose start fails', () => {
  it('a NaN opening: the next step rejects with an ArgumentError naming the opening block', async () => {
    const x = opening(2);
    x[(0 * 2 * F + F) * H * W + 17] = NaN; // channel 0, frame 3: in block 2
    const s = model.createSession({ prompt, opening: x });
    const err = await s.step().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ArgumentError);
    expect((err as Error).message).toMatch(/start failed \(opening block 2 of 2\).*(NaN|finite)/i);
    expect((err as Error).cause).toBeInstanceOf(ArgumentError);
    // every later call says the same; nothing half-run is left to use
    await expect(s.stats()).rejects.toThrow(/start failed/);
    await expect(s.setPrompt(prompt)).rejects.toThrow(/start failed/);
    await expect(s.commit(opening(1))).rejects.toThrow(/start failed/);
    await expect(model.stepMany([{ session: s }])).resolves.toEqual([expect.any(ArgumentError)]);
    expect(() => s.kvPages()).toThrow(/start failed/);
    await s.close();
    expect(model.kvStats().sessions).toBe(0);
  });

  it('an opening over the KV budget: KvBudgetError from the next call; the pool is left as it was', async () => {
    const m = await loadModel(tinyDir, { threads: 1, kv: { budgetBytes: 10 * PAGE_F32 + CROSS, dtype: 'f32' } });
    try {
      const s = m.createSession({ prompt, opening: opening(4) }); // 12 frames > 10 pages (global attention)
      const err = await s.step().then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(KvBudgetError);
      expect((err as Error).message).toMatch(/start failed \(opening block 4 of 4\).*KV budget/);
      await s.close();
      expect(m.kvStats().usedBytes).toBe(0);
      // the pool still admits a session that fits
      const ok = m.createSession({ prompt, opening: opening(2) });
      expect((await ok.step()).frameStart).toBe(6);
      await ok.close();
    } finally {
      m.close();
    }
  });

  it('a good start is invisible: the first step continues after the opening', async () => {
    const s = model.createSession({ prompt, opening: opening(2) });
    const b = await s.step();
    expect(b.frameStart).toBe(6);
    expect(s.kvPages()).toHaveLength(9);
    await s.close();
  });

  it('sessions in one stepMany: the failed one gets its error in its slot, the others run', async () => {
    const bad = opening(1);
    bad[3] = Infinity;
    const a = model.createSession({ prompt, opening: bad });
    const b = model.createSession({ prompt, opening: opening(1) });
    const [ra, rb] = await model.stepMany([{ session: a }, { session: b }]);
    expect(ra).toBeInstanceOf(ArgumentError);
    expect(rb).toMatchObject({ frameStart: 3, frames: 3 });
    await Promise.all([a.close(), b.close()]);
  });
});

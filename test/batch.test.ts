// Batched stepping: several sessions' blocks as one forward per denoising step must give
// exactly what stepping them one by one gives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { KvBudgetError, loadModel, type LatentBlock, type Model, type SessionOptions } from '../sdk/src/index.js';
import { goldenCases, goldenTensors, relErr, tensor, tinyDir } from './helpers/fixtures.js';

const g = goldenTensors(goldenCases().cases[0]!);
const prompts = [tensor(g, 'prompt.0'), tensor(g, 'prompt.1')];
let model: Model;
beforeAll(async () => {
  model = await loadModel(tinyDir, { threads: 2, kv: { dtype: 'f32' } });
});
afterAll(() => model.close());

const configs: SessionOptions[] = [
  { seed: 1, prompt: prompts[0] },
  { seed: 2, prompt: prompts[1], localAttnSize: 7, sinkSize: 1 },
  { seed: 3, prompt: prompts[0], foldCommit: true },
  { seed: 4, prompt: prompts[1], kvDtype: 'int8' },
  { seed: 5, prompt: prompts[0], latentHeight: 4, latentWidth: 6 },
];
const act = (b: number, k: number) => ({ keys: (b + k) % 2 ? ['w'] : ['a'], mouse: { dx: ((b * 7 + k) % 5) / 5 - 0.4 } });

describe('stepMany', () => {
  it('equals stepping each session alone (windows, fold, int8 pages, another latent size, in one batch)', async () => {
    const solo = configs.map((c) => model.createSession(c));
    const batched = configs.map((c) => model.createSession(c));
    for (let b = 0; b < 5; b++) {
      const one: LatentBlock[] = [];
      for (let k = 0; k < solo.length; k++) one.push(await solo[k]!.step({ actions: act(b, k) }));
      const many = await model.stepMany(batched.map((s, k) => ({ session: s, actions: act(b, k) })));
      many.forEach((r, k) => {
        if (r instanceof Error) throw r;
        expect(r.frameStart).toBe(one[k]!.frameStart);
        expect(relErr(r.latents, one[k]!.latents), `block ${b} session ${k}`).toBeLessThan(1e-5);
      });
    }
    await Promise.all([...solo, ...batched].map((s) => s.close()));
  });

  it('a session refused by the budget gets its error; the others still run', async () => {
    const page = 2 * 2 * 16 * 64 * 4, cross = 2 * 2 * 8 * 64 * 4;
    const m = await loadModel(tinyDir, { threads: 2, kv: { dtype: 'f32', budgetBytes: 13 * page + 2 * cross } }); // quotas 7p+c and 3p+c, plus 3 pages
    const windowed = m.createSession({ seed: 1, prompt: prompts[0], localAttnSize: 7, sinkSize: 1 });
    const global = m.createSession({ seed: 2, prompt: prompts[0] });
    for (let b = 0; b < 2; b++) {
      const r = await m.stepMany([{ session: windowed }, { session: global }]);
      expect(r.every((x) => !(x instanceof Error))).toBe(true);
    }
    const r = await m.stepMany([{ session: windowed }, { session: global }]);
    expect(r[0]).not.toBeInstanceOf(Error);
    expect(r[1]).toBeInstanceOf(KvBudgetError);
    expect((await global.stats()).nextFrame).toBe(6);
    await expect(m.stepMany([{ session: windowed }, { session: windowed }])).resolves.toSatisfy(
      (x: unknown[]) => !(x[0] instanceof Error) && x[1] instanceof Error && /appears twice/.test((x[1] as Error).message),
    );
    await Promise.all([windowed.close(), global.close()]);
    await expect(m.stepMany([{ session: global }])).rejects.toThrow(/closed/);
    m.close();
  });
});

// Folding each block's commit into the next block's first forward must not change the
// blocks: the same rollouts with foldCommit on and off, including windows, prompt
// changes, forks and probes (which flush a waiting commit).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadModel, type Model, type SessionOptions } from '../sdk/src/index.js';
import { goldenCases, goldenTensors, randoms, relErr, tensor, tinyDir } from './helpers/fixtures.js';

const g = goldenTensors(goldenCases().cases[0]!);
const prompts = [tensor(g, 'prompt.0'), tensor(g, 'prompt.1')];
let model: Model;
beforeAll(async () => {
  model = await loadModel(tinyDir, { threads: 2, kv: { dtype: 'f32' } });
});
afterAll(() => model.close());

const act = (b: number) => randoms(21, b + 1).map((v, i) => (i % 7 < 5 ? (v > 0 ? 1 : 0) : v));

async function run(opts: SessionOptions, blocks: number, between?: (s: Awaited<ReturnType<Model['createSession']>>, b: number) => Promise<void>) {
  const s = model.createSession({ seed: 12, prompt: prompts[0], ...opts });
  const out: Float32Array[] = [];
  for (let b = 0; b < blocks; b++) {
    const blk = await s.step({ actions: act(b) });
    expect(blk.forwards).toBe(opts.foldCommit ? 4 : 5);
    out.push(blk.latents);
    if (between) await between(s, b);
  }
  await s.close();
  return out;
}

describe('fold commit', () => {
  for (const [name, opts] of [
    ['global', {}],
    ['window 7, sink 1', { localAttnSize: 7, sinkSize: 1 }],
  ] as const)
    it(`${name}: folded blocks equal the unfolded loop`, async () => {
      const a = await run({ ...opts }, 6);
      const b = await run({ ...opts, foldCommit: true }, 6);
      a.forEach((x, i) => expect(relErr(b[i]!, x), `block ${i}`).toBeLessThan(1e-5));
    });

  it('a prompt change, a probe and a fork flush the waiting commit correctly', async () => {
    const hooks = async (s: Awaited<ReturnType<Model['createSession']>>, b: number) => {
      if (b === 1) await s.setPrompt(prompts[1]!);
      if (b === 2) await s.probe(randoms(768, 4), new Float32Array([900, 500, 100]));
      if (b === 3) await (await s.fork()).close();
    };
    const a = await run({}, 6, hooks);
    const b = await run({ foldCommit: true }, 6, hooks);
    a.forEach((x, i) => expect(relErr(b[i]!, x), `block ${i}`).toBeLessThan(1e-5));
  });

  it('holds the same KV pages once flushed', async () => {
    const s = model.createSession({ seed: 1, prompt: prompts[0], foldCommit: true });
    await s.step();
    await s.step();
    expect(s.kvPages().map((p) => p.frame)).toEqual([0, 1, 2]); // block 1 waits to be folded
    await s.probe(randoms(768, 5), new Float32Array([500, 500, 500])); // flushes
    expect(s.kvPages().map((p) => p.frame)).toEqual([0, 1, 2, 3, 4, 5]);
    await s.close();
  });
});

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

  it('commitPending runs the waiting commits of several sessions in one batched forward, with the same blocks', async () => {
    const a = await run({}, 5);
    const b = await run({}, 5);
    // Two fold sessions stepped together, their commits run eagerly after each batch.
    const ss = [0, 1].map(() => model.createSession({ seed: 12, prompt: prompts[0], foldCommit: true }));
    const out: Float32Array[][] = [[], []];
    for (let k = 0; k < 5; k++) {
      const res = await model.stepMany(ss.map((s) => ({ session: s, actions: act(k) })));
      res.forEach((r, i) => {
        if (r instanceof Error) throw r;
        out[i]!.push(r.latents);
      });
      const frames = ss[0]!.kvPages().length;
      const c = await model.commitPending(ss);
      expect(c.committed).toBe(2);
      expect(c.errors).toEqual([null, null]);
      expect(ss[0]!.kvPages().length).toBe(frames + 3); // the block is committed now, not at the next step
      expect((await model.commitPending(ss)).committed).toBe(0); // nothing left waiting
    }
    out[0]!.forEach((x, i) => expect(relErr(x, a[i]!), `block ${i}`).toBeLessThan(1e-5));
    out[1]!.forEach((x, i) => expect(relErr(x, b[i]!), `block ${i}`).toBeLessThan(1e-5));
    await Promise.all(ss.map((s) => s.close()));
  });

  it('commitPending refuses a closed or foreign session and leaves plain sessions alone', async () => {
    const plain = model.createSession({ seed: 3, prompt: prompts[0] });
    await plain.step();
    expect(await model.commitPending([plain])).toEqual({ committed: 0, errors: [null] });
    await plain.close();
    await expect(model.commitPending([plain])).rejects.toThrow(/closed/);
    await expect(model.commitPending([{} as never])).rejects.toThrow(/not a worldcast Session/);
    const other = await loadModel(tinyDir, { threads: 1 });
    const foreign = other.createSession({ seed: 1, foldCommit: true });
    await foreign.step();
    await expect(model.commitPending([foreign])).rejects.toThrow(/another model/);
    await foreign.close();
    other.close();
  });
});

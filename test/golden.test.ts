// Golden tests: the engine against the PyTorch reference (tools/reference, float64),
// on the tiny fixture checkpoint. Tolerance 1e-5 of the reference's scale: the engine
// computes in fp32 (different summation order, fp32 GEMMs), which over 2 layers and a
// 4-step sampler lands near 5e-7; 1e-5 leaves room for other SIMD paths and thread counts
// while catching any semantic slip (a wrong RoPE split, sink or modulation is > 1e-2).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';

import { loadModel, type Model, type Session } from '../sdk/src/index.js';
import { fixtures, goldenCases, goldenTensors, relErr, tensor, tinyDir } from './helpers/fixtures.js';

const TOL = 1e-5;
const cases = goldenCases();
let shared: Model;

beforeAll(async () => {
  shared = await loadModel(tinyDir, { threads: 2, kv: { dtype: 'f32' } });
});
afterAll(() => shared.close());

describe('golden: schedule', () => {
  it('warps the step list through the shifted table as upstream does', async () => {
    const s = shared.createSession();
    const ts = s.layout.timesteps;
    expect(ts.length).toBe(cases.schedule.steps.length);
    ts.forEach((t, i) => expect(t).toBeCloseTo(cases.schedule.steps[i]!, 4));
    await s.close();
  });
});

for (const c of cases.cases) {
  const sizes = c.block_sizes ?? null;
  describe(`golden: ${c.name} (local_attn_size ${c.local_attn_size}, sink ${c.sink_size}${c.block_frames ? `, blocks of ${c.block_frames} frame(s) by blockFrames` : ''}${sizes ? `, blocks of ${sizes.join(', ')} frames in one session` : ''})`, () => {
    const g = goldenTensors(c);
    // A case with its own block size runs a model loaded with `blockFrames` (the same weights).
    let own: Model | null = null;
    const model = () => own ?? shared;
    beforeAll(async () => {
      if (c.block_frames) {
        own = await loadModel(tinyDir, { threads: 2, kv: { dtype: 'f32' }, blockFrames: c.block_frames });
        expect(own.config.num_frame_per_block).toBe(c.block_frames);
      }
    });
    afterAll(() => own?.close());
    // A case of several block sizes: one session of the model's blocks taking blocks down to its smallest.
    const window = { localAttnSize: c.local_attn_size, sinkSize: c.sink_size, ...(sizes ? { minBlockFrames: Math.min(...sizes) } : {}) };

    /** Each block of the case in order, the session's prompt switched where the case switches it. */
    async function eachBlock(s: Session, fn: (b: number, blk: (typeof c.blocks)[number]) => Promise<void>): Promise<void> {
      let prompt = -1;
      for (let b = 0; b < c.blocks.length; b++) {
        const blk = c.blocks[b]!;
        if (blk.prompt !== prompt) {
          await s.setPrompt(tensor(g, `prompt.${blk.prompt}`));
          prompt = blk.prompt;
        }
        await fn(b, blk);
      }
      await s.close();
    }

    it('every forward matches, teacher-forced (probe with per-frame timesteps, each denoising step)', async () => {
      const s = model().createSession(window);
      await eachBlock(s, async (b, blk) => {
        // the KV frames held are exactly the frames a block of the session's smallest size would attend to
        expect((await s.stats()).kvFrames).toBe((blk.held_frames ?? blk.attended_frames).length);
        const act = tensor(g, `block.${b}.actions`);
        if (blk.probe) {
          const v = await s.probe(tensor(g, `block.${b}.probe.x`), tensor(g, `block.${b}.probe.t`), act);
          expect(relErr(v, tensor(g, `block.${b}.probe.v`)), `block ${b} probe`).toBeLessThan(TOL);
        }
        for (let i = 0; i < blk.steps; i++) {
          const t = tensor(g, `block.${b}.fwd.${i}.t`);
          const v = await s.probe(tensor(g, `block.${b}.fwd.${i}.x`), t, act);
          expect(relErr(v, tensor(g, `block.${b}.fwd.${i}.v`)), `block ${b} step ${i}`).toBeLessThan(TOL);
        }
        await s.commit(tensor(g, `block.${b}.x0`), act);
      });
    });

    /** The free-running block loop with the reference noise: every block's latents, frames and (unfolded) pages. */
    const freeRun = (s: Session, frames: (b: number) => number | undefined, foldCommit: boolean) =>
      eachBlock(s, async (b, blk) => {
        // the pages held are the reference cache's frames (a folded commit joins them in the next forward)
        if (!foldCommit) expect(s.kvPages().map((p) => p.frame), `block ${b}`).toEqual(blk.held_frames ?? blk.attended_frames);
        const noise = Array.from({ length: blk.steps }, (_, i) => tensor(g, `block.${b}.noise.${i}`));
        const out = await s.step({ actions: tensor(g, `block.${b}.actions`), noise, frames: frames(b) });
        expect(out.frameStart).toBe(blk.frame_start);
        expect(out.frames).toBe(blk.frames ?? c.block_frames ?? 3);
        expect(out.forwards).toBe(blk.steps + (foldCommit ? 0 : 1));
        expect(relErr(out.latents, tensor(g, `block.${b}.x0`)), `block ${b}`).toBeLessThan(TOL);
      });

    for (const foldCommit of [false, true])
      it(`the free-running block loop with the reference noise reproduces every block${foldCommit ? ' (commits folded)' : ''}`, () =>
        freeRun(model().createSession({ ...window, foldCommit }), (b) => sizes?.[b], foldCommit));

    if (c.block_frames)
      it(`a session of the model's own blocks stepping blocks of ${c.block_frames} (minBlockFrames) is the blockFrames ${c.block_frames} model`, () =>
        freeRun(shared.createSession({ localAttnSize: c.local_attn_size, sinkSize: c.sink_size, minBlockFrames: c.block_frames! }), () => c.block_frames!, false));
  });
}

describe('golden: reduced-precision checkpoints load and convert at load', () => {
  const c = cases.cases[0]!;
  const g = goldenTensors(c);
  for (const [dir, tol] of [
    ['tiny_bf16', 3e-2],
    ['tiny_f16', 3e-3],
  ] as const) {
    it(`${dir} stays within ${tol} of the fp32 reference`, async () => {
      const m = await loadModel(join(fixtures, dir), { threads: 2 });
      const s = m.createSession();
      await s.setPrompt(tensor(g, 'prompt.0'));
      const v = await s.probe(tensor(g, 'block.0.fwd.0.x'), tensor(g, 'block.0.fwd.0.t'), tensor(g, 'block.0.actions'));
      const e = relErr(v, tensor(g, 'block.0.fwd.0.v'));
      expect(e).toBeLessThan(tol);
      expect(e).toBeGreaterThan(0); // it really is the rounded checkpoint
      await s.close();
      m.close();
    });
  }
});

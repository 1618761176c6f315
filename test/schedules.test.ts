// Schedule policies (config.json "schedule" and the sampler keys) against the PyTorch
// reference: Self Forcing's, CausVid's and Matrix-Game 2.0's samplers through the block
// loop, and the MAGI-1-style staggered pipeline (tools/reference/staggered.py), on the
// tiny fixture weights with injected noise (tools/reference/make_schedule_fixtures.py).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { loadModel } from '../sdk/src/index.js';
import { fixtures, relErr, tensor, tinyDir } from './helpers/fixtures.js';
import { readSafetensors } from '../sdk/src/safetensors.js';

interface ScheduleCase {
  name: string;
  file: string;
  overrides: Record<string, unknown>;
  window: number | null;
  steps: number[];
  calls: { frame_start: number | null }[];
}

const TOL = 1e-5;
const doc = JSON.parse(readFileSync(join(fixtures, 'golden', 'schedules.json'), 'utf8')) as { cases: ScheduleCase[] };
const tmp = mkdtempSync(join(tmpdir(), 'wc-schedules-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The tiny model's weights under a config with `overrides` (a model directory in tmp). */
function modelDir(name: string, overrides: Record<string, unknown>): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const cfg = { ...JSON.parse(readFileSync(join(tinyDir, 'config.json'), 'utf8')), ...overrides };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  copyFileSync(join(tinyDir, 'model.safetensors'), join(dir, 'model.safetensors'));
  return dir;
}

for (const c of doc.cases) {
  describe(`schedule golden: ${c.name}`, () => {
    it(`matches the reference${c.window ? ` (staggered, window ${c.window})` : ''}`, async () => {
      const g = readSafetensors(join(fixtures, 'golden', c.file)).tensors;
      const model = await loadModel(modelDir(c.name, c.overrides), { threads: 2, kv: { dtype: 'f32' } });
      try {
        const s = model.createSession({ prompt: tensor(g, 'prompt') });
        expect(s.layout.timesteps.length).toBe(c.steps.length);
        s.layout.timesteps.forEach((t, i) => expect(t).toBeCloseTo(c.steps[i]!, 3));
        for (let k = 0; k < c.calls.length; k++) {
          const noise = c.steps.map((_, i) => tensor(g, `call.${k}.noise.${i}`));
          const b = await s.step({ actions: tensor(g, `call.${k}.actions`), noise });
          const want = c.calls[k]!.frame_start;
          if (want === null) {
            expect(b.frames, `call ${k} fills the pipeline`).toBe(0);
            expect(b.latents.length).toBe(0);
            continue;
          }
          expect(b.frameStart, `call ${k}`).toBe(want);
          expect(relErr(b.latents, tensor(g, `call.${k}.x0`)), `call ${k}`).toBeLessThan(TOL);
          expect(b.forwards).toBe(c.window ? c.steps.length / c.window : c.steps.length + 1);
        }
        await s.close();
      } finally {
        model.close();
      }
    });
  });
}

describe('staggered pipeline (engine behaviour)', () => {
  const sf = { denoising_step_list: [1000, 750, 500, 250], warp_denoising_step: true, timestep_shift: 5 };
  const act = (k: number) => ({ keys: k % 2 ? ['w'] : ['d'], mouse: { dx: (k % 5) / 5 - 0.4 } });

  it('with a window of 1 is the block loop with its commit folded, bit for bit', async () => {
    const stag = await loadModel(modelDir('w1', { ...sf, schedule: { type: 'staggered', window: 1 } }), { threads: 2, kv: { dtype: 'f32' } });
    const plain = await loadModel(modelDir('plain', sf), { threads: 2, kv: { dtype: 'f32' } });
    try {
      expect(stag.config.schedule).toEqual({ type: 'staggered', window: 1 });
      expect(plain.config.schedule).toEqual({ type: 'block' });
      const a = stag.createSession({ seed: 3 });
      const b = plain.createSession({ seed: 3, foldCommit: true });
      expect(a.layout.window).toBe(1);
      expect(a.layout.forwardsPerCall).toBe(4);
      expect(b.layout.forwardsPerCall).toBe(4);
      for (let k = 0; k < 4; k++) {
        const [x, y] = [await a.step({ actions: act(k) }), await b.step({ actions: act(k) })];
        expect(x.frameStart).toBe(y.frameStart);
        expect(x.latents).toEqual(y.latents);
      }
      await Promise.all([a.close(), b.close()]);
    } finally {
      stag.close();
      plain.close();
    }
  });

  it('batches sessions exactly, forks mid-pipeline, refuses commit/probe with blocks in flight, fills without frames', async () => {
    const dir = modelDir('w4', { ...sf, local_attn_size: 10, sink_size: 1, schedule: { type: 'staggered', window: 4 } });
    const model = await loadModel(dir, { threads: 2, kv: { dtype: 'f32' }, decoder: join(fixtures, 'taehv_tiny') });
    try {
      const solo = [model.createSession({ seed: 1 }), model.createSession({ seed: 2 })];
      const batched = [model.createSession({ seed: 1 }), model.createSession({ seed: 2 })];
      expect(solo[0]!.layout.forwardsPerCall).toBe(1);
      for (let k = 0; k < 6; k++) {
        const one = [await solo[0]!.step({ actions: act(k) }), await solo[1]!.step({ actions: act(k + 1) })];
        const many = await model.stepMany([
          { session: batched[0]!, actions: act(k) },
          { session: batched[1]!, actions: act(k + 1) },
        ]);
        many.forEach((r, i) => {
          if (r instanceof Error) throw r;
          expect(r.frames).toBe(k < 3 ? 0 : 3);
          expect(r.images.length).toBe(k < 3 ? 0 : one[i]!.images.length);
          expect(r.latents).toEqual(one[i]!.latents);
        });
        if (k >= 3) expect(one[0]!.images.length).toBeGreaterThan(0);
      }
      await expect(solo[0]!.commit(new Float32Array(4 * 3 * 8 * 8))).rejects.toThrow(/blocks are in flight/);
      await expect(solo[0]!.probe(new Float32Array(4 * 3 * 8 * 8), new Float32Array(3))).rejects.toThrow(/blocks are in flight/);
      // A fork (same seed) continues the pipeline exactly as its parent does.
      const child = await solo[0]!.fork({ seed: 1 });
      const [p, q] = [await solo[0]!.step({ actions: act(9) }), await child.step({ actions: act(9) })];
      expect(q.frameStart).toBe(p.frameStart);
      expect(q.latents).toEqual(p.latents);
      await Promise.all([...solo, ...batched, child].map((s) => s.close()));
      expect(model.kvStats().pages.used).toBe(0);
    } finally {
      model.close();
    }
  });

  it('rejects impossible schedules with clear config errors', async () => {
    await expect(loadModel(modelDir('bad1', { ...sf, schedule: { type: 'staggered', window: 3 } }))).rejects.toThrow(/schedule window 3 must divide the 4 denoising steps/);
    await expect(loadModel(modelDir('bad2', { ...sf, schedule: { type: 'magic' } }))).rejects.toThrow(/type "magic" is not a schedule policy/);
    await expect(loadModel(modelDir('bad3', { ...sf, schedule: { type: 'staggered' } }))).rejects.toThrow(/needs "window"/);
    await expect(loadModel(modelDir('bad4', { ...sf, schedule: 4 }))).rejects.toThrow(/"schedule" must be an object/);
  });
});

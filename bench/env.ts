/**
 * Agent environments (`npm run bench -- env`): env steps per second in the default world for
 * n = 1, 4 and 16 sub-envs, a {@link VectorWorldEnv} (every sub-env's block in one batched
 * forward) against n {@link WorldEnv}s stepped one after another (the peer), in the same
 * run. One step = one block of 3 latent frames (0.2 s of world time), physics, conditioning,
 * the 4-step sampler, the commit pass and the decode to 128×128 RGB; random discrete
 * actions from a fixed seed, time limit 30 steps (autoreset on). Vector steps and sequential
 * rounds alternate, so both see the same machine load; medians over steps.
 */
import { existsSync } from 'node:fs';

import { loadModel, type Model } from '../sdk/src/index.js';
import { Discrete, VectorWorldEnv, WorldEnv } from '../env/src/index.js';
import { median } from './common.js';

const DIR = 'models/default';
const opts = { actionType: 'discrete' as const, maxEpisodeSteps: 30 };

/** Median ms of one vector step and of one sequential round (n single steps), interleaved so both see the same machine load. */
async function measure(model: Model, n: number, steps: number): Promise<{ vec: number; seq: number }> {
  const vec = await VectorWorldEnv.create(model, n, opts);
  const singles = await Promise.all(Array.from({ length: n }, () => WorldEnv.create(model, opts)));
  const space = vec.singleActionSpace as Discrete;
  space.seed(1);
  await vec.reset({ seed: 1 });
  await Promise.all(singles.map((e, i) => e.reset({ seed: 1 + i })));
  const done = singles.map(() => false);
  const v: number[] = [];
  const q: number[] = [];
  for (let k = 0; k < steps + 1; k++) {
    const actions = Array.from({ length: n }, () => space.sample());
    let t0 = performance.now();
    await vec.step(actions);
    if (k >= 1) v.push(performance.now() - t0);
    t0 = performance.now();
    for (let i = 0; i < n; i++) {
      if (done[i]) {
        await singles[i]!.reset();
        done[i] = false;
        continue;
      }
      const [, , te, tr] = await singles[i]!.step(actions[i]);
      done[i] = te || tr;
    }
    if (k >= 1) q.push(performance.now() - t0);
  }
  await Promise.all([vec.close(), ...singles.map((e) => e.close())]);
  return { vec: median(v), seq: median(q) };
}

export async function runEnvBench(): Promise<unknown> {
  if (!existsSync(`${DIR}/config.json`)) throw new Error(`${DIR} is missing`);
  const model = await loadModel(DIR, { threads: 2 });
  const F = model.config.num_frame_per_block;
  const rows = [];
  for (const n of [1, 4, 16]) {
    const steps = n === 16 ? 8 : 16;
    const { vec, seq } = await measure(model, n, steps);
    const r = { n, vectorStepMs: vec, sequentialStepMs: seq, vectorStepsPerSec: (n * 1000) / vec, sequentialStepsPerSec: (n * 1000) / seq, vectorFramesPerSec: (n * F * 1000) / vec, ratio: seq / vec };
    rows.push(r);
    console.log(
      `env n=${String(n).padStart(2)}: vectorised ${r.vectorStepsPerSec.toFixed(1)} env steps/s (${r.vectorFramesPerSec.toFixed(0)} frames/s, ${vec.toFixed(0)} ms per step of all ${n}) vs sequential ${r.sequentialStepsPerSec.toFixed(1)} steps/s → ${r.ratio.toFixed(2)}×`,
    );
  }
  model.close();
  return { suite: 'env', model: DIR, framesPerStep: F, rows };
}

/**
 * Agent environments (`npm run bench -- env`): env steps per second in the default world for
 * n = 1, 4 and 16 sub-envs, a {@link VectorWorldEnv} (every sub-env's block in one batched
 * forward) against n {@link WorldEnv}s stepped one after another (the peer), in the same
 * run. One step = one block of 3 latent frames (0.2 s of world time), physics, conditioning,
 * the 4-step sampler, the commit pass and the decode to 128×128 RGB; random discrete
 * actions from a fixed seed, time limit 30 steps (autoreset on). Medians over steps.
 */
import { existsSync } from 'node:fs';

import { loadModel, type Model } from '../sdk/src/index.js';
import { Discrete, VectorWorldEnv, WorldEnv } from '../env/src/index.js';
import { median } from './common.js';

const DIR = 'models/default';
const opts = { actionType: 'discrete' as const, maxEpisodeSteps: 30 };

async function vectorStepMs(model: Model, n: number, steps: number): Promise<number> {
  const env = await VectorWorldEnv.create(model, n, opts);
  const space = env.singleActionSpace as Discrete;
  space.seed(1);
  await env.reset({ seed: 1 });
  const ms: number[] = [];
  for (let k = 0; k < steps + 2; k++) {
    const actions = Array.from({ length: n }, () => space.sample());
    const t0 = performance.now();
    await env.step(actions);
    if (k >= 2) ms.push(performance.now() - t0);
  }
  await env.close();
  return median(ms);
}

async function sequentialStepMs(model: Model, n: number, steps: number): Promise<number> {
  const envs = await Promise.all(Array.from({ length: n }, () => WorldEnv.create(model, opts)));
  const space = envs[0]!.actionSpace as Discrete;
  space.seed(1);
  await Promise.all(envs.map((e, i) => e.reset({ seed: 1 + i })));
  const done = envs.map(() => false);
  const ms: number[] = [];
  for (let k = 0; k < steps + 2; k++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      if (done[i]) {
        await envs[i]!.reset();
        done[i] = false;
        continue;
      }
      const [, , te, tr] = await envs[i]!.step(space.sample());
      done[i] = te || tr;
    }
    if (k >= 2) ms.push(performance.now() - t0);
  }
  await Promise.all(envs.map((e) => e.close()));
  return median(ms);
}

export async function runEnvBench(): Promise<unknown> {
  if (!existsSync(`${DIR}/config.json`)) throw new Error(`${DIR} is missing`);
  const model = await loadModel(DIR, { threads: 2 });
  const F = model.config.num_frame_per_block;
  const rows = [];
  for (const n of [1, 4, 16]) {
    const steps = n === 16 ? 8 : 16;
    const vec = await vectorStepMs(model, n, steps);
    const seq = await sequentialStepMs(model, n, steps);
    const r = { n, vectorStepMs: vec, sequentialStepMs: seq, vectorStepsPerSec: (n * 1000) / vec, sequentialStepsPerSec: (n * 1000) / seq, vectorFramesPerSec: (n * F * 1000) / vec, ratio: seq / vec };
    rows.push(r);
    console.log(
      `env n=${String(n).padStart(2)}: vectorised ${r.vectorStepsPerSec.toFixed(1)} env steps/s (${r.vectorFramesPerSec.toFixed(0)} frames/s, ${vec.toFixed(0)} ms per step of all ${n}) vs sequential ${r.sequentialStepsPerSec.toFixed(1)} steps/s → ${r.ratio.toFixed(2)}×`,
    );
  }
  model.close();
  return { suite: 'env', model: DIR, framesPerStep: F, rows };
}

/**
 * An example agent: the cross-entropy method (CEM) on a linear softmax policy, trained in
 * the default world model through a {@link VectorWorldEnv} (one sub-env per member of the
 * population, all stepped as one batched forward). The task: walk from a spawn point (facing
 * −Z) to the white pillar behind-right of the spawns, ~8 m away (`goalTask`: +10 at the goal,
 * progress shaping, small costs per step and collision).
 *
 *   npm run agent -- [--iterations 6] [--population 8] [--steps 20] [--features pose|pixels] [--out runs/agent-env]
 *
 * Features: 'pose' (default) uses the true pose the env reports in `info.pose` (bearing and
 * distance to the goal: a privileged-state baseline that learns in a few iterations);
 * 'pixels' uses only the observation (mean colour of the left, middle and right thirds of
 * the frame, where the pillar shows as a bright column). It logs each iteration's returns
 * and writes the best policy's rollout as a PNG strip (model frames above, the ground-truth
 * renderer's view below) and the learning curve as JSON.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import sharp from 'sharp';

import { loadModel } from '../../sdk/src/index.js';
import { Rng } from '../../world/src/rng.js';
import { DISCRETE_ACTIONS, VectorWorldEnv, goalTask, type Pose, type SpaceValue, type StepInfo } from '../../env/src/index.js';

const GOAL: [number, number] = [5.4, 5.4];
const ACTIONS = ['forward', 'turn_left', 'turn_right', 'forward_left', 'forward_right'].map((n) => DISCRETE_ACTIONS.findIndex((a) => a.name === n));

type Features = (obs: Uint8Array, info: StepInfo) => number[];

const poseFeatures: Features = (_obs, info) => {
  const p: Pose = info.pose;
  // Bearing of the goal relative to where the agent faces (yaw 0 faces −Z, grows to the left).
  const want = Math.atan2(-(GOAL[0] - p.x), -(GOAL[1] - p.z));
  let rel = want - p.yaw;
  rel = Math.atan2(Math.sin(rel), Math.cos(rel));
  return [Math.cos(rel), Math.sin(rel), Math.min(1, Math.hypot(GOAL[0] - p.x, GOAL[1] - p.z) / 10), 1];
};

const pixelFeatures: Features = (obs) => {
  const W = 128;
  const H = 128;
  const f: number[] = [];
  for (let third = 0; third < 3; third++) {
    let r = 0;
    let g = 0;
    let b = 0;
    let n = 0;
    for (let y = 16; y < 96; y += 2)
      for (let x = (third * W) / 3; x < ((third + 1) * W) / 3; x += 2) {
        const i = 3 * (y * W + Math.floor(x));
        r += obs[i]!;
        g += obs[i + 1]!;
        b += obs[i + 2]!;
        n++;
      }
    f.push(r / n / 255, g / n / 255, b / n / 255);
  }
  f.push(1);
  return f;
};

/** Softmax policy: logits = W · features; greedy when `greedy`. */
function act(theta: Float64Array, feats: number[], rng: Rng, greedy: boolean): number {
  const A = ACTIONS.length;
  const logits = Array.from({ length: A }, (_, a) => feats.reduce((s, x, j) => s + theta[a * feats.length + j]! * x, 0));
  if (greedy) return ACTIONS[logits.indexOf(Math.max(...logits))]!;
  const m = Math.max(...logits);
  const p = logits.map((l) => Math.exp(l - m));
  const z = p.reduce((a, b) => a + b, 0);
  let u = rng.next() * z;
  for (let a = 0; a < A; a++) if ((u -= p[a]!) <= 0) return ACTIONS[a]!;
  return ACTIONS[A - 1]!;
}

function gaussian(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      iterations: { type: 'string', default: '6' },
      population: { type: 'string', default: '8' },
      steps: { type: 'string', default: '20' },
      features: { type: 'string', default: 'pose' },
      seed: { type: 'string', default: '1' },
      model: { type: 'string', default: 'models/default' },
      out: { type: 'string', default: 'runs/agent-env' },
    },
  });
  const iterations = Number(values.iterations);
  const pop = Number(values.population);
  const steps = Number(values.steps);
  const features = values.features === 'pixels' ? pixelFeatures : poseFeatures;
  const rng = new Rng(Number(values.seed));
  const model = await loadModel(values.model!, { threads: 2 });
  const env = await VectorWorldEnv.create(model, pop, { actionType: 'discrete', maxEpisodeSteps: steps, reward: goalTask(GOAL, 1.2), renderTruth: true });
  const nf = features(new Uint8Array(128 * 128 * 3), { pose: { x: 0, y: 0, z: 0, yaw: 0, pitch: 0 } } as StepInfo).length;
  const dim = nf * ACTIONS.length;
  let mean = new Float64Array(dim);
  let std = new Float64Array(dim).fill(1.5);
  const curve: { iteration: number; mean: number; best: number; reached: number; seconds: number }[] = [];
  let best = { ret: -Infinity, theta: mean };
  const frameBytes = 128 * 128 * 3;

  /** One episode per sub-env with the given parameters; returns the returns and whether each reached the goal. */
  const evaluate = async (thetas: Float64Array[], seed: number, greedy: boolean, record?: { model: Uint8Array[]; truth: Uint8Array[] }) => {
    let [obs, infos] = await env.reset({ seed });
    const ret = new Float64Array(pop);
    const done = new Array<boolean>(pop).fill(false);
    const reached = new Array<boolean>(pop).fill(false);
    let n = 0;
    while (!done.every(Boolean)) {
      const actions = thetas.map((th, i) => (done[i] ? 0 : act(th, features((obs as Uint8Array).subarray(i * frameBytes, (i + 1) * frameBytes), infos[i]!), rng, greedy)));
      const [o, r, term, trunc, inf] = await env.step(actions);
      for (let i = 0; i < pop; i++) {
        if (done[i]) continue;
        ret[i] += r[i]!;
        if (term[i]) reached[i] = true;
        if (term[i] || trunc[i]) done[i] = true;
      }
      if (record && n % 2 === 0 && !reached[0]) {
        record.model.push((o as Uint8Array).slice(0, frameBytes));
        record.truth.push(inf[0]!.truth as Uint8Array);
      }
      obs = o;
      infos = inf;
      n++;
    }
    return { ret, reached };
  };

  console.log(`CEM: ${iterations} iterations × ${pop} episodes of ≤ ${steps} steps (${(steps * model.config.num_frame_per_block) / (model.config.latent_fps || 15)} s), features '${values.features}'`);
  for (let it = 0; it < iterations; it++) {
    const t0 = performance.now();
    const thetas = Array.from({ length: pop }, (_, i) => (i === 0 && it > 0 ? best.theta : Float64Array.from(mean, (m, j) => m + std[j]! * gaussian(rng))));
    const { ret, reached } = await evaluate(thetas, 1000 + it, false);
    const order = [...ret.keys()].sort((a, b) => ret[b]! - ret[a]!);
    const elite = order.slice(0, Math.max(2, Math.round(pop / 4)));
    if (ret[order[0]!]! > best.ret) best = { ret: ret[order[0]!]!, theta: thetas[order[0]!]! };
    mean = Float64Array.from(mean, (_, j) => elite.reduce((s, e) => s + thetas[e]![j]!, 0) / elite.length);
    std = Float64Array.from(std, (_, j) => Math.sqrt(elite.reduce((s, e) => s + (thetas[e]![j]! - mean[j]!) ** 2, 0) / elite.length) + 0.1);
    const avg = ret.reduce((a, b) => a + b, 0) / pop;
    const secs = (performance.now() - t0) / 1e3;
    curve.push({ iteration: it, mean: avg, best: ret[order[0]!]!, reached: reached.filter(Boolean).length, seconds: secs });
    console.log(`iteration ${it}: mean return ${avg.toFixed(2)}, best ${ret[order[0]!]!.toFixed(2)}, reached the goal ${reached.filter(Boolean).length}/${pop} (${secs.toFixed(1)} s)`);
  }
  // The learned mean policy, greedy, on fresh spawns; record sub-env 0's rollout.
  const record = { model: [] as Uint8Array[], truth: [] as Uint8Array[] };
  const final = await evaluate(Array.from({ length: pop }, () => mean), 99, true, record);
  const finalMean = final.ret.reduce((a, b) => a + b, 0) / pop;
  console.log(`learned policy (greedy, new seeds): mean return ${finalMean.toFixed(2)}, reached the goal ${final.reached.filter(Boolean).length}/${pop}`);
  mkdirSync(values.out!, { recursive: true });
  writeFileSync(join(values.out!, 'curve.json'), JSON.stringify({ features: values.features, goal: GOAL, curve, final: { mean: finalMean, reached: final.reached.filter(Boolean).length, of: pop } }, null, 2));
  const shots = Math.min(record.model.length, 12);
  if (shots > 0) {
    const img = Buffer.alloc(shots * 128 * 256 * 3);
    for (let k = 0; k < shots; k++) {
      for (let y = 0; y < 128; y++) {
        img.set(record.model[k]!.subarray(y * 384, (y + 1) * 384), (y * shots * 128 + k * 128) * 3);
        img.set(record.truth[k]!.subarray(y * 384, (y + 1) * 384), ((y + 128) * shots * 128 + k * 128) * 3);
      }
    }
    const path = join(values.out!, 'rollout.png');
    await sharp(img, { raw: { width: shots * 128, height: 256, channels: 3 } }).png().toFile(path);
    console.log(`wrote ${path} (model frames above, ground truth below, every 2nd step) and ${join(values.out!, 'curve.json')}`);
  }
  await env.close();
  model.close();
}

await main();

/**
 * A held-out walk through the default level, truth vs model, with and without the
 * geometry map: the first explorer episode of the eval's seed under a prompt (no switch),
 * driven by its true actions, poses and maps as the game server gives them.
 *
 *   npm run eval:walk -- [--model models/default] [--prompt dusk] [--seconds 30] [--seed 90210] [--out <model>/eval]
 *
 * Prints the PSNR of the first and last 2 s and of the whole walk, both ways, and writes
 * `<out>/walk_<prompt>.png`: truth (top), model with the map, model without it (bottom),
 * ten columns evenly over the walk.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { defaultLevel, poseInputs } from '../../gameserver/src/index.js';
import { PROMPTS } from '../../gameserver/src/render.js';
import { loadModel, type ActionInput, type Pose } from '../../sdk/src/index.js';
import { generateEpisode, planEpisode } from '../dataset/generate.js';
import { psnr } from './metrics.js';
import { writeFrameGrid } from './strip.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/default' },
    prompt: { type: 'string', default: 'dusk' },
    seconds: { type: 'string', default: '30' },
    seed: { type: 'string', default: '90210' },
    out: { type: 'string' },
  },
});
const prompt = PROMPTS.indexOf(values.prompt as (typeof PROMPTS)[number]);
if (prompt < 0) throw new Error(`--prompt must be one of ${PROMPTS.join(', ')}`);
const seconds = Number(values.seconds);
const seed = Number(values.seed);
if (!(seconds >= 1)) throw new Error('--seconds must be ≥ 1');
const model = await loadModel(values.model!, { threads: 2 });
const c = model.config;
const space = c.action;
if (!space?.geometry) throw new Error(`${values.model} takes no geometry map (config.json action.geometry)`);
const F = c.num_frame_per_block;
const fps = c.latent_fps || 15;
const view = { level: defaultLevel, latent: { height: c.latent_height, width: c.latent_width } };
const blocks = Math.ceil((seconds * fps) / F);
const T = blocks * F + 1;
let id = 0;
while (!((p) => p.policy === 'explorer' && p.switchAt === null && p.prompt0 === prompt)(planEpisode(defaultLevel, seed, id, T))) id++;
const ep = await generateEpisode(defaultLevel, seed, id, T, 128);
const fb = 128 * 128 * 3;
const poseAt = (k: number): Pose => {
  const p = ep.poses.subarray(k * 5, k * 5 + 5);
  return { x: p[0]!, y: p[1]!, z: p[2]!, yaw: p[3]!, pitch: p[4]! };
};
const nKeys = space.keys.length;
const row = nKeys + space.mouse.length;
const inputs = (k: number, geometry: boolean): ActionInput => {
  const a = ep.actions.subarray(k * row, (k + 1) * row);
  const p = poseInputs(poseAt(k), space, { view });
  return {
    keys: space.keys.filter((_, i) => a[i] === 1),
    mouse: Object.fromEntries(space.mouse.map((ax, j) => [ax.name, a[nKeys + j]!])),
    pose: p.pose,
    ...(geometry ? { geometry: p.geometry } : {}),
  };
};
const every = Math.max(1, Math.round((T - 1) / 10));
const shown = (k: number): boolean => k % every === 0;
const truth: Uint8Array[] = [];
for (let k = 1; k < T; k++) if (shown(k)) truth.push(ep.frames.slice(k * fb, (k + 1) * fb));
const rows: Uint8Array[][] = [truth];
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
for (const geometry of [true, false]) {
  const s = model.createSession({ seed: id, prompt: PROMPTS[prompt], opening: `${PROMPTS[prompt]}/${ep.meta.spawn.index}`, openingActions: inputs(0, geometry) });
  const ps: number[] = [];
  const frames: Uint8Array[] = [];
  for (let b = 1; b <= blocks; b++) {
    const k0 = (b - 1) * F + 1;
    const out = await s.step({ actions: Array.from({ length: F }, (_, i) => inputs(k0 + i, geometry)) });
    out.images.forEach((img, i) => {
      const k = k0 + i;
      ps.push(psnr(img.rgb, ep.frames.subarray(k * fb, (k + 1) * fb)));
      if (shown(k)) frames.push(Uint8Array.from(img.rgb));
    });
  }
  await s.close();
  rows.push(frames);
  const n = 2 * fps;
  console.log(
    `${geometry ? 'with the map   ' : 'without the map'}: episode ${id} (spawn ${ep.meta.spawn.index}, ${PROMPTS[prompt]}, ${seconds} s): PSNR first 2 s ${mean(ps.slice(0, n)).toFixed(2)} dB, last 2 s ${mean(ps.slice(-n)).toFixed(2)} dB, all ${mean(ps).toFixed(2)} dB`,
  );
}
model.close();
const path = join(values.out ?? join(values.model!, 'eval'), `walk_${PROMPTS[prompt]}.png`);
await writeFrameGrid(path, rows, 128, 128);
console.log(`strip: ${path} (truth, with the map, without it; a column every ${(every / fps).toFixed(1)} s)`);

/**
 * A held-out walk through the default level, truth vs model, with and without the
 * geometry map: the first explorer episode of the eval's seed under a prompt (no switch),
 * driven by its true actions, poses and maps as the game server gives them.
 *
 *   npm run eval:walk -- [--model models/default] [--prompt dusk] [--seconds 30] [--seed 90210] [--out <model>/eval]
 *
 * Prints the PSNR of the first and last 2 s and of the whole walk, both ways, and writes
 * `<out>/walk_<prompt>.png`: truth (top), model with the map, model without it (bottom),
 * ten columns evenly over the walk. test/default_model.test.ts runs the same walk.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { poseInputs } from '../../world/src/conditioning.js';
import { defaultLevel, type Level } from '../../world/src/levels/index.js';
import { PROMPTS, type PromptName } from '../../world/src/render.js';
import { loadModel, type ActionInput, type Model } from '../../sdk/src/index.js';
import { episodePose, generateEpisode, planEpisode, type EpisodeData } from '../dataset/generate.js';
import { psnr } from './metrics.js';
import { writeFrameGrid } from './strip.js';

/** Frame size of the walks (the dataset's). */
const SIZE = 128;

/** The walk of `frames` frames: the first explorer episode of `seed` that starts under `prompt` and does not switch it. */
export async function heldOutWalk(level: Level, prompt: PromptName, frames: number, seed: number): Promise<EpisodeData> {
  const p0 = PROMPTS.indexOf(prompt);
  let id = 0;
  while (!((p) => p.policy === 'explorer' && p.switchAt === null && p.prompt0 === p0)(planEpisode(level, seed, id, frames))) id++;
  return generateEpisode(level, seed, id, frames, SIZE);
}

/**
 * Run `model` through `ep` from its spawn's opening, block by block with the episode's true
 * keys, mouse and pose, and its geometry maps when `geometry` (else none: the dropout path);
 * a model whose decoder takes the geometry gets the decoder's map of every frame either way.
 * Returns the PSNR against the truth of frames 1, 2, …; `onFrame` sees each model frame.
 */
export async function walkRollout(model: Model, level: Level, ep: EpisodeData, geometry: boolean, onFrame?: (k: number, rgb: Uint8Array) => void): Promise<number[]> {
  const c = model.config;
  const space = model.actionSpace; // config.json's, with the map its decoder takes per frame when it takes one
  if (!space) throw new Error('the walk needs a model with an action space');
  const F = c.num_frame_per_block;
  const view = { level, latent: { height: c.latent_height, width: c.latent_width } };
  const nKeys = space.keys.length;
  const row = nKeys + space.mouse.length;
  const inputs = (k: number): ActionInput => {
    const a = ep.actions.subarray(k * row, (k + 1) * row);
    const p = poseInputs(episodePose(ep, k), space, { view });
    return {
      keys: space.keys.filter((_, i) => a[i] === 1),
      mouse: Object.fromEntries(space.mouse.map((ax, j) => [ax.name, a[nKeys + j]!])),
      pose: p.pose,
      ...(geometry ? { geometry: p.geometry } : {}),
      // a geometry decoder's map, either way: "without the map" is the DiT's dropout path
      ...(p.frameGeometry ? { frameGeometry: p.frameGeometry } : {}),
    };
  };
  const prompt = PROMPTS[ep.prompts[0]!]!;
  const opening = inputs(0); // (its decoder map is unused: the opening is committed, not decoded)
  const s = model.createSession({ seed: ep.meta.id, prompt, opening: `${prompt}/${ep.meta.spawn.index}`, openingActions: opening });
  const fb = SIZE * SIZE * 3;
  const ps: number[] = [];
  try {
    for (let k0 = 1; k0 + F <= ep.meta.frames; k0 += F) {
      const out = await s.step({ actions: Array.from({ length: F }, (_, i) => inputs(k0 + i)) });
      out.images.forEach((img, i) => {
        ps.push(psnr(img.rgb, ep.frames.subarray((k0 + i) * fb, (k0 + i + 1) * fb)));
        onFrame?.(k0 + i, img.rgb);
      });
    }
  } finally {
    await s.close();
  }
  return ps;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'models/default' },
      prompt: { type: 'string', default: 'dusk' },
      seconds: { type: 'string', default: '30' },
      seed: { type: 'string', default: '90210' },
      out: { type: 'string' },
    },
  });
  const prompt = values.prompt as PromptName;
  if (!PROMPTS.includes(prompt)) throw new Error(`--prompt must be one of ${PROMPTS.join(', ')}`);
  const seconds = Number(values.seconds);
  if (!(seconds >= 1)) throw new Error('--seconds must be ≥ 1');
  const model = await loadModel(values.model!, { threads: 2 });
  const c = model.config;
  if (!c.action?.geometry) throw new Error(`${values.model} takes no geometry map (config.json action.geometry)`);
  const F = c.num_frame_per_block;
  const fps = c.latent_fps || 15;
  const T = Math.ceil((seconds * fps) / F) * F + 1;
  const ep = await heldOutWalk(defaultLevel, prompt, T, Number(values.seed));
  const fb = SIZE * SIZE * 3;
  const every = Math.max(1, Math.round((T - 1) / 10));
  const shown = (k: number): boolean => k % every === 0;
  const truth: Uint8Array[] = [];
  for (let k = 1; k < T; k++) if (shown(k)) truth.push(ep.frames.slice(k * fb, (k + 1) * fb));
  const rows: Uint8Array[][] = [truth];
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  for (const geometry of [true, false]) {
    const frames: Uint8Array[] = [];
    const ps = await walkRollout(model, defaultLevel, ep, geometry, (k, rgb) => shown(k) && frames.push(Uint8Array.from(rgb)));
    rows.push(frames);
    const n = 2 * fps;
    console.log(
      `${geometry ? 'with the map   ' : 'without the map'}: episode ${ep.meta.id} (spawn ${ep.meta.spawn.index}, ${prompt}, ${seconds} s): PSNR first 2 s ${mean(ps.slice(0, n)).toFixed(2)} dB, last 2 s ${mean(ps.slice(-n)).toFixed(2)} dB, all ${mean(ps).toFixed(2)} dB`,
    );
  }
  model.close();
  const path = join(values.out ?? join(values.model!, 'eval'), `walk_${prompt}.png`);
  await writeFrameGrid(path, rows, SIZE, SIZE);
  console.log(`strip: ${path} (truth, with the map, without it; a column every ${(every / fps).toFixed(1)} s)`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  });
}

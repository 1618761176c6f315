// The embedded default world model (models/default): it loads through the public API like
// any checkpoint, ships its decoder, prompt vocabulary and openings, stays within its size
// budget, and plays: started at a spawn point it shows what the renderer draws there, and
// its prompts change the lighting.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { defaultLevel, eyeFromCharacter, GEOMETRY_CHANNELS, poseInputs, PROMPTS, renderView, spawnPose } from '../gameserver/src/index.js';
import { loadModel, type Model } from '../sdk/src/index.js';
import { heldOutWalk, walkRollout } from '../tools/eval/walk.js';
import { psnr } from '../tools/eval/metrics.js';
import { root } from './helpers/fixtures.js';

const dir = join(root, 'models', 'default');
/** The maps of the default level at the model's latent size, as the game server draws them. */
const view = { level: defaultLevel, latent: { height: 16, width: 16 } };
/** PSNR over the last 2 s of a 10-s held-out walk (measured with these weights: 22.9 dB with the map, 12.5 without). */
const WALLS_PSNR = 19;
const WALLS_GAIN = 5;

function dirBytes(d: string): number {
  return readdirSync(d, { withFileTypes: true }).reduce((a, e) => a + (e.isDirectory() ? dirBytes(join(d, e.name)) : e.name.endsWith('.png') || e.name.endsWith('.json') || e.name.endsWith('.md') ? 0 : statSync(join(d, e.name)).size), 0);
}

function meanRgb(f: Uint8Array): number {
  let s = 0;
  for (const v of f) s += v;
  return s / f.length;
}

describe('default world model', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(dir, { threads: 2 });
  });
  afterAll(() => model?.close());

  it('loads through the public API with its decoder, prompts and openings', () => {
    const c = model.config;
    expect(c.model_type).toBe('t2v');
    expect(c.latent_fps).toBe(15);
    expect(c.action?.keys).toEqual(['w', 'a', 's', 'd', 'space']);
    expect(model.decoder).not.toBeNull();
    expect(model.promptEncoder).not.toBeNull();
    for (const p of PROMPTS) expect(() => model.promptEncoder!.encode(p)).not.toThrow();
    for (const p of PROMPTS) for (let s = 0; s < defaultLevel.spawns.length; s++) expect(model.openings.has(`${p}/${s}`)).toBe(true);
  });

  it('weights stay within 40 MB', () => {
    expect(dirBytes(dir)).toBeLessThanOrEqual(40 * 1024 * 1024);
  });

  it('started at a spawn point, standing still, it shows the level as rendered there', async () => {
    const pose = spawnPose(defaultLevel.spawns[0]!);
    const truth = renderView(defaultLevel, eyeFromCharacter(pose), 'day', 128, 128);
    // the game server's conditioning: the spawn pose and its geometry map with the opening and with each frame
    expect(model.config.action?.pose).toBeDefined();
    expect(model.config.action?.geometry?.channels).toBe(GEOMETRY_CHANNELS);
    // (model.actionSpace: with the decoder's map of each frame when the decoder takes one; the opening does not use it)
    const at = poseInputs(pose, model.actionSpace!, { view });
    const s = model.createSession({ seed: 3, prompt: 'day', opening: 'day/0', openingActions: at });
    const b = await s.step({ actions: { keys: [], ...at } });
    expect(b.frameStart).toBe(3);
    expect(b.images.length).toBe(3);
    const f = b.images[2]!;
    expect([f.width, f.height]).toEqual([128, 128]);
    // a random or broken model lands near 10 dB; the trained one sees the yard
    expect(psnr(f.rgb, truth)).toBeGreaterThan(18);
    await s.close();
  });

  it('keeps the walls where the level has them: 10 s of a held-out walk, with and without the geometry map', async () => {
    // the first held-out explorer episode (the eval's seed) under daylight, without a prompt switch (npm run eval:walk)
    const ep = await heldOutWalk(defaultLevel, 'day', 151, 90210);
    const last2s = async (geometry: boolean): Promise<number> => {
      const ps = (await walkRollout(model, defaultLevel, ep, geometry)).slice(-30);
      expect(ps.length).toBe(30);
      return ps.reduce((x, y) => x + y, 0) / ps.length;
    };
    const withMap = await last2s(true);
    const without = await last2s(false);
    expect(withMap).toBeGreaterThan(WALLS_PSNR);
    expect(withMap - without).toBeGreaterThan(WALLS_GAIN);
  }, 120_000);

  it('its prompts change the lighting (night is darker than day)', async () => {
    const bright: Record<string, number> = {};
    // a decoder that takes the geometry sees the spawn's view with every frame
    const { frameGeometry } = poseInputs(spawnPose(defaultLevel.spawns[1]!), { ...model.actionSpace!, pose: undefined, geometry: undefined }, { view });
    for (const p of ['day', 'night']) {
      const s = model.createSession({ seed: 3, prompt: p, opening: `${p}/1` });
      let last: Uint8Array | undefined;
      for (let i = 0; i < 2; i++) {
        const b = await s.step({ actions: { keys: ['w'], ...(frameGeometry ? { frameGeometry } : {}) } });
        const f = b.images.at(-1)!;
        last = f.rgb;
      }
      bright[p] = meanRgb(last!);
      await s.close();
    }
    expect(bright.night!).toBeLessThan(bright.day! * 0.6);
  });
});

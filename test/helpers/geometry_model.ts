// A tiny world model whose video decoder takes the view's geometry, assembled for tests: the
// tiny geometry DiT (test/fixtures/tiny_geometry: 6×8 latents, its own map at 2×2 rays, near 5)
// with a tiny TAEHV decoder (n_f 8, 8, 8, 8; 4 latent channels; ×8 in space, none in time)
// whose five plain convs read an 8-channel map (renderGeometry's) at 1/4 of the 48×64 frame:
// 12×16 at 1 ray a pixel, near 5 — the same rays as the DiT's map, which is its pool. It ships
// a prompt vocabulary ('day', 'dusk') and an opening 'day/0' of 3 latent frames.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { GEOMETRY_CHANNELS } from '../../world/src/render.js';
import { encodeSafetensors, type Tensor } from '../../sdk/src/index.js';
import { fixtures, randoms } from './fixtures.js';

/** The decoder's map of each frame: 12×16 at 1 ray a pixel, near 5. */
export const GEO_MAP = { channels: GEOMETRY_CHANNELS, height: 12, width: 16, samples: 1, near: 5 };

/** Writes the decoder (config.json + weights) into `dir`. */
export function writeGeometryDecoder(dir: string): void {
  const G = GEOMETRY_CHANNELS;
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      type: 'taehv',
      latent_channels: 4,
      image_channels: 3,
      patch_size: 1,
      n_f: [8, 8, 8, 8],
      decoder_time_upscale: [false, false, false],
      decoder_space_upscale: [true, true, true],
      trim_first_frames: true,
      geometry: { channels: G, scale: 4, samples: GEO_MAP.samples, near: GEO_MAP.near },
    }),
  );
  const tensors: Record<string, Tensor> = {};
  let seed = 1;
  const add = (name: string, shape: number[], scale: number): void => {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors[name] = { shape, data: randoms(n, seed++).map((x) => x * scale) };
  };
  const conv = (name: string, out: number, inp: number, k: number, bias: boolean): void => {
    add(`${name}.weight`, [out, inp, k, k], 1 / Math.sqrt(inp * k * k));
    if (bias) add(`${name}.bias`, [out], 0.1);
  };
  const n = 8;
  conv('decoder.1', n, 4 + G, 3, true);
  for (let s = 0; s < 3; s++) {
    for (const m of [3, 4, 5].map((i) => i + 6 * s)) {
      conv(`decoder.${m}.conv.0`, n, 2 * n, 3, true);
      conv(`decoder.${m}.conv.2`, n, n, 3, true);
      conv(`decoder.${m}.conv.4`, n, n, 3, true);
    }
    conv(`decoder.${7 + 6 * s}.conv`, n, n, 1, false);
    conv(`decoder.${8 + 6 * s}`, n, n + G, 3, false);
  }
  conv('decoder.22', 3, n + G, 3, true);
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
}

/** Writes the model directory into `dir` (its decoder in `dir/decoder`); returns `dir`. */
export function writeGeometryModel(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeGeometryDecoder(join(dir, 'decoder'));
  const cfg = JSON.parse(readFileSync(join(fixtures, 'tiny_geometry', 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, decoder: 'decoder' }));
  copyFileSync(join(fixtures, 'tiny_geometry', 'model.safetensors'), join(dir, 'model.safetensors'));
  // text_dim 32; two rows a prompt
  writeFileSync(join(dir, 'prompts.safetensors'), encodeSafetensors({ day: { shape: [2, 32], data: randoms(64, 11) }, dusk: { shape: [2, 32], data: randoms(64, 12) } }));
  writeFileSync(join(dir, 'openings.safetensors'), encodeSafetensors({ 'day/0': { shape: [4, 3, 6, 8], data: randoms(4 * 3 * 48, 13) } }));
  return dir;
}

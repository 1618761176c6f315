/**
 * Where the other characters are, for training and validating the default world on a dataset
 * made with `npm run dataset -- --characters` (a training/evaluation aid: the masks are never
 * model inputs).
 *
 *   node --import tsx tools/train/char_masks.ts --data /work/data/world [--val-every 10]
 *
 * Writes into the dataset directory:
 *   charmask16.u8     uint8 [N, 16, 16]: 1 where the frame's geometry map (latent size) differs
 *                     with and without the other characters (the DiT's loss weights them up);
 *   val_nochar.u8     uint8 [V, H, W, 3]: the held-out episodes' frames (every `val-every`-th
 *                     episode, as common.py's split) rendered again without the other characters,
 *                     so a character's pixels are where the truth differs from it;
 *   val_nochar.json   {episodes: [ids], frames: [global frame indices]} for val_nochar.u8.
 */
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { defaultLevel } from '../../world/src/levels/index.js';
import { GEOMETRY_CHANNELS, PROMPTS, eyeFromCharacter, renderGeometry, renderView } from '../../world/src/render.js';
import { MAX_OTHERS, OTHER_FLOATS, otherShapes, type DatasetMeta } from '../dataset/generate.js';

const { values } = parseArgs({ options: { data: { type: 'string' }, 'val-every': { type: 'string', default: '10' } } });
const dir = values.data!;
const valEvery = Number(values['val-every']);
const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as DatasetMeta;
if (!meta.characters || !meta.geometry) throw new Error('a dataset made with --characters and its geometry maps is needed');
const f32 = (name: string) => {
  const b = readFileSync(join(dir, name));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};
const poses = f32('poses.f32');
const promptsU8 = new Uint8Array(readFileSync(join(dir, 'prompts.u8')));
const others = f32('others.f32');
const { width: gw, height: gh, samples, near } = meta.geometry;
const per = GEOMETRY_CHANNELS * gh * gw;
const a = new Float32Array(per);
const b = new Float32Array(per);
const N = meta.totalFrames;
const mask = new Uint8Array(N * gh * gw);
const colorsAt: number[][] = [];
for (const e of meta.episodes) for (let k = 0; k < e.frames; k++) colorsAt[e.start + k] = (e.others ?? []).map((o) => o.color);
const camAt = (f: number) => {
  const o = f * 5;
  return eyeFromCharacter({ x: poses[o]!, y: poses[o + 1]!, z: poses[o + 2]!, yaw: poses[o + 3]!, pitch: poses[o + 4]! });
};
const shapesAt = (f: number) => otherShapes(others.subarray(f * MAX_OTHERS * OTHER_FLOATS, (f + 1) * MAX_OTHERS * OTHER_FLOATS), colorsAt[f] ?? []);
const t0 = performance.now();
for (let f = 0; f < N; f++) {
  const shapes = shapesAt(f);
  if (shapes.length === 0) continue;
  const cam = camAt(f);
  renderGeometry(defaultLevel, cam, gw, gh, { samples, near, characters: shapes }, a);
  renderGeometry(defaultLevel, cam, gw, gh, { samples, near }, b);
  for (let c = 0; c < GEOMETRY_CHANNELS; c++)
    for (let p = 0; p < gh * gw; p++) if (Math.abs(a[c * gh * gw + p]! - b[c * gh * gw + p]!) > 1e-4) mask[f * gh * gw + p] = 1;
  if (f % 2000 === 0) process.stderr.write(`\rcharmask16: ${f}/${N} frames, ${(f / ((performance.now() - t0) / 1000)).toFixed(0)} frames/s`);
}
writeFileSync(join(dir, 'charmask16.u8'), mask);
process.stderr.write(`\ncharmask16.u8: ${mask.reduce((s, v) => s + v, 0)} character latent pixels\n`);

const val = meta.episodes.filter((e) => e.id % valEvery === valEvery - 1);
const frames: number[] = [];
const fd = openSync(join(dir, 'val_nochar.u8'), 'w');
const px = new Uint8Array(meta.width * meta.height * 3);
try {
  for (const e of val) {
    for (let k = 0; k < e.frames; k++) {
      const f = e.start + k;
      renderView(defaultLevel, camAt(f), PROMPTS[promptsU8[f]!]!, meta.width, meta.height, px);
      writeSync(fd, px);
      frames.push(f);
    }
    process.stderr.write(`\rval_nochar: ${frames.length} frames`);
  }
} finally {
  closeSync(fd);
}
writeFileSync(join(dir, 'val_nochar.json'), JSON.stringify({ episodes: val.map((e) => e.id), frames }) + '\n');
process.stderr.write(`\nval_nochar.u8: ${frames.length} frames of ${val.length} episodes\n`);


/**
 * Schedule policies (`npm run bench -- schedule`): milliseconds per block out of one
 * session, the block loop (4 steps + a commit forward) vs the same with the commit folded
 * vs the MAGI-1-style staggered pipeline with 2 and 4 blocks in flight (config.json
 * "schedule"), on the tiny fixture and a mid-size random model (dim 512, 8 layers, 3×16×16
 * latents). Same weights, same threads; medians over blocks after the pipeline has filled.
 * Staggered stacks the blocks in flight into one forward (bigger GEMMs, one pass over the
 * weights per block out) at the price of W − 1 blocks of action latency.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadModel } from '../sdk/src/index.js';
import { writeRandomModel } from './random_model.js';
import { median } from './common.js';

const VARIANTS = [
  { name: 'block loop', schedule: null, fold: false },
  { name: 'block loop, commit folded', schedule: null, fold: true },
  { name: 'staggered, window 2', schedule: { type: 'staggered', window: 2 }, fold: false },
  { name: 'staggered, window 4', schedule: { type: 'staggered', window: 4 }, fold: false },
];

function variantDir(src: string, tmp: string, name: string, schedule: unknown): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
  cfg.schedule = schedule;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  copyFileSync(join(src, 'model.safetensors'), join(dir, 'model.safetensors'));
  return dir;
}

async function perBlockMs(dir: string, fold: boolean, blocks: number): Promise<number> {
  const model = await loadModel(dir, { threads: 2 });
  const s = model.createSession({ seed: 1, foldCommit: fold, localAttnSize: 12, sinkSize: 3 });
  const ms: number[] = [];
  let out = 0;
  let warm = 0;
  while (out < blocks) {
    const t0 = performance.now();
    const b = await s.step();
    if (b.frames === 0) continue; // filling
    if (warm++ < 2) continue;
    ms.push(performance.now() - t0);
    out++;
  }
  await s.close();
  model.close();
  return median(ms);
}

export async function runScheduleBench(): Promise<unknown> {
  const tmp = mkdtempSync(join(tmpdir(), 'wc-schedule-'));
  try {
    const mid = join(tmp, 'mid-src');
    writeRandomModel(mid, { dim: 512, ffn_dim: 2048, num_heads: 8, num_layers: 8, in_dim: 16, out_dim: 16, text_dim: 4096, text_len: 512, latent_height: 16, latent_width: 16 });
    const models = [
      { label: 'tiny fixture (dim 64, 2 layers, 3×8×8)', src: 'test/fixtures/tiny', blocks: 40 },
      { label: 'mid (dim 512, 8 layers, 3×16×16)', src: mid, blocks: 6 },
    ];
    const rows = [];
    for (const m of models) {
      let base = 0;
      for (const v of VARIANTS) {
        const dir = variantDir(m.src, tmp, `${m.label.split(' ')[0]}-${v.name.replace(/\W+/g, '_')}`, v.schedule);
        const ms = await perBlockMs(dir, v.fold, m.blocks);
        if (!base) base = ms;
        rows.push({ model: m.label, variant: v.name, msPerBlock: ms, speedup: base / ms });
      }
    }
    console.log('\nschedule policies, one session, 2 threads (ms per block out; median)');
    console.log('| model | schedule | ms per block | vs block loop |');
    console.log('|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.model} | ${r.variant} | ${r.msPerBlock.toFixed(2)} | ${r.speedup.toFixed(2)}× |`);
    return { suite: 'schedule', rows };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

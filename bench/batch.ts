/**
 * Batching benchmark (`npm run bench -- batch`): n sessions stepping one block each,
 * one by one vs as one batched forward per denoising step (model.stepMany), on the
 * same model and threads. Prints blocks/s and the gain.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadModel } from '../sdk/src/index.js';
import { writeRandomModel } from './random_model.js';
import { median } from './common.js';


async function measure(dir: string, n: number, rounds: number) {
  const model = await loadModel(dir, { threads: 2 });
  const mk = () => Array.from({ length: n }, (_, k) => model.createSession({ seed: k + 1, localAttnSize: 12, sinkSize: 3 }));
  const a = mk(), b = mk();
  for (const s of [...a, ...b]) await s.step(); // warm (prompt caches, first blocks)
  const seq: number[] = [], bat: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let t0 = performance.now();
    for (const s of a) await s.step();
    seq.push(performance.now() - t0);
    t0 = performance.now();
    const res = await model.stepMany(b.map((session) => ({ session })));
    bat.push(performance.now() - t0);
    if (res.some((x) => x instanceof Error)) throw res.find((x) => x instanceof Error);
  }
  await Promise.all([...a, ...b].map((s) => s.close()));
  model.close();
  return { sessions: n, sequentialMs: median(seq), batchedMs: median(bat), gain: median(seq) / median(bat) };
}

export async function runBatchBench(): Promise<unknown> {
  const tmp = mkdtempSync(join(tmpdir(), 'wc-batch-'));
  try {
    const mid = join(tmp, 'mid');
    writeRandomModel(mid, { dim: 512, ffn_dim: 2048, num_heads: 8, num_layers: 8, in_dim: 16, out_dim: 16, text_dim: 4096, text_len: 512, latent_height: 16, latent_width: 16 });
    const rows = [];
    for (const n of [2, 4, 8]) rows.push({ model: 'tiny', ...(await measure('test/fixtures/tiny', n, 15)) });
    for (const n of [2, 4]) rows.push({ model: 'mid (dim 512, 8 layers, 3×16×16)', ...(await measure(mid, n, 3)) });
    console.log('\nbatched stepping, 2 threads (one block per session per round; median round)');
    console.log('| model | sessions | one by one ms | batched ms | gain |');
    console.log('|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.model} | ${r.sessions} | ${r.sequentialMs.toFixed(2)} | ${r.batchedMs.toFixed(2)} | ${r.gain.toFixed(2)}× |`);
    return { suite: 'batch', rows };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

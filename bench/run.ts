/**
 * `npm run bench [-- suite...]`: runs benchmark suites, prints a table with ratios
 * against a peer measured in the same run, and writes JSON to bench/results/.
 * Suites: block (one block step: tiny fixture model and a mid-size config, per-stage
 * breakdown, PyTorch CPU peer when Debian's python3-torch is installed).
 * gemm: linear() GFLOP/s with f32/bf16/int8 weights at the Wan layer shapes vs OpenBLAS sgemm.
 * decoder: one block of 3 latent frames through the TAEHV video decoder (tiny and Wan 2.1 size) vs PyTorch.
 * world: the default world model (models/default) stepped and decoded as a player gets it: frames/s.
 * env: agent environments, env steps/s for n = 1, 4, 16, vectorised (batched) vs sequential.
 * schedule: ms per block of the block loop vs folded commit vs the staggered pipeline (windows 2, 4).
 * matrix_game: one block of a mid-size Matrix-Game 2.0-structured model, with vs without its action module.
 * wan: Wan2.1-T2V-1.3B shapes at 480×832 with Self Forcing's sampler and 21-frame window, f32/bf16/int8
 * weights × KV vs PyTorch, s/block over a rollout and RSS (tens of minutes: run only when named;
 * options after the name, e.g. `npm run bench -- wan --blocks 2 --layers 1 --settings f32/f32`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { runAttentionBench } from './attention.js';
import { runBatchBench } from './batch.js';
import { runBlockBench } from './block.js';
import { runDecoderBench } from './decoder.js';
import { runEnvBench } from './env.js';
import { runGemmBench } from './gemm.js';
import { runFramesBench } from './frames.js';
import { runKvBench } from './kv.js';
import { runMatrixGameBench } from './matrix_game.js';
import { runProfilerBench } from './profiler.js';
import { runScheduleBench } from './schedule.js';
import { runWanBench } from './wan.js';
import { runWorldBench } from './world.js';

const suites: Record<string, () => Promise<unknown>> = { block: runBlockBench, kv: runKvBench, attention: runAttentionBench, profiler: runProfilerBench, batch: runBatchBench, frames: runFramesBench, gemm: runGemmBench, decoder: runDecoderBench, world: runWorldBench, env: runEnvBench, matrix_game: runMatrixGameBench, schedule: runScheduleBench, wan: runWanBench };
/** Suites too long for the default run of every suite. */
const onlyWhenNamed = new Set(['wan']);
// Suite names; an option's value (`--blocks 2`) is not one: a word after an option without
// `=` belongs to it unless it names a suite (options are read by the suites themselves).
const argv = process.argv.slice(2);
const args = argv.filter((a, i) => !a.startsWith('-') && (i === 0 || !argv[i - 1]!.startsWith('--') || argv[i - 1]!.includes('=') || a in suites));
const chosen = args.length ? args : Object.keys(suites).filter((s) => !onlyWhenNamed.has(s));
for (const name of chosen) {
  const suite = suites[name];
  if (!suite) {
    console.error(`unknown suite "${name}"; known: ${Object.keys(suites).join(', ')}`);
    process.exit(2);
  }
  const result = await suite();
  const dir = join(process.cwd(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2));
  console.log(`\nwrote ${file}`);
}

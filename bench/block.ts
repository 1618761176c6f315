/**
 * Block-step benchmark: the time of one block (all denoising forwards + the commit) of
 * the tiny fixture model and of a mid-size config (dim 512, 8 layers, 3 frames of 16×16
 * latents), with the per-stage breakdown, against the PyTorch reference in float32 on
 * the same threads (run as a subprocess when Debian's python3-torch is installed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadModel } from '../sdk/src/index.js';
import { writeRandomModel } from './random_model.js';
import { median, runTorchPeer } from './common.js';

const THREADS = Number(process.env.WORLDCAST_THREADS ?? 2);
const BLOCKS = Number(process.env.WORLDCAST_BENCH_BLOCKS ?? 5);


interface Row {
  model: string;
  tokensPerBlock: number;
  blockMs: number;
  latentFramesPerSec: number;
  stagesMs: Record<string, number>;
  peer?: string;
  peerBlockMs?: number;
  speedup?: number;
}

async function measure(name: string, dir: string, opts: { threads?: number; fold?: boolean; peer?: boolean } = {}): Promise<Row> {
  const threads = opts.threads ?? THREADS;
  const model = await loadModel(dir, { threads });
  const c = model.config;
  const s = model.createSession({ seed: 1, foldCommit: opts.fold ?? false });
  const rows = Math.min(20, c.text_len);
  const prompt = new Float32Array(rows * c.text_dim).map((_, i) => Math.sin(i * 0.37));
  await s.setPrompt(prompt);
  await s.step(); // warm-up: computes the prompt's cross-attention K/V
  const ms: number[] = [];
  const stages: Record<string, number[]> = {};
  for (let b = 0; b < BLOCKS; b++) {
    const blk = await s.step();
    ms.push(blk.seconds * 1e3);
    for (const [k, v] of Object.entries(blk.times)) (stages[k] ??= []).push(v * 1e3);
  }
  await s.close();
  model.close();
  const blockMs = median(ms);
  const row: Row = {
    model: name,
    tokensPerBlock: c.num_frame_per_block * (c.latent_height / 2) * (c.latent_width / 2),
    blockMs,
    latentFramesPerSec: (c.num_frame_per_block * 1e3) / blockMs,
    stagesMs: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, median(v)])),
  };
  if (opts.peer === false) {
    row.peer = 'not run for this variant';
  } else {
    const p = runTorchPeer('tools/reference/bench_block.py', [dir, '--blocks', String(BLOCKS), '--threads', String(threads)], 1_800_000);
    row.peer = p.peer;
    if (p.blockMs !== undefined) {
      row.peerBlockMs = p.blockMs;
      row.speedup = p.blockMs / blockMs;
    }
  }
  return row;
}

export async function runBlockBench(): Promise<unknown> {
  const tmp = mkdtempSync(join(tmpdir(), 'wc-bench-'));
  try {
    const midDir = join(tmp, 'mid');
    writeRandomModel(midDir, {
      dim: 512, ffn_dim: 2048, num_heads: 8, num_layers: 8, in_dim: 16, out_dim: 16,
      text_dim: 4096, text_len: 512, latent_height: 16, latent_width: 16,
      action: { keys: ['w', 'a', 's', 'd', 'space'], mouse: [{ name: 'dx', min: -1, max: 1 }, { name: 'dy', min: -1, max: 1 }] },
    });
    const tiny = 'tiny fixture (dim 64, 2 layers, 3×8×8)', mid = 'mid (dim 512, 8 layers, 3×16×16)';
    const rows = [
      await measure(tiny, 'test/fixtures/tiny'),
      await measure(`${tiny}, foldCommit`, 'test/fixtures/tiny', { fold: true, peer: false }),
      await measure(mid, midDir),
      await measure(`${mid}, foldCommit`, midDir, { fold: true, peer: false }),
      await measure(`${mid}, 1 thread`, midDir, { threads: 1, peer: false }),
    ];
    const probe = await loadModel('test/fixtures/tiny', { threads: THREADS });
    const info = probe.info();
    probe.close();
    console.log(`\nblock step, ${THREADS} threads unless noted, ${info.isa} kernels, median of ${BLOCKS} blocks (5 forwards each: 4 denoising + commit)`);
    console.log('| model | tokens/block | block ms | latent frames/s | gemm | attention | norm | rope | other | PyTorch ms | speedup |');
    console.log('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      const st = r.stagesMs;
      const f = (v: number | undefined) => (v === undefined ? 'n/a' : v.toFixed(2));
      console.log(`| ${r.model} | ${r.tokensPerBlock} | ${f(r.blockMs)} | ${f(r.latentFramesPerSec)} | ${f(st.gemm)} | ${f(st.attention)} | ${f(st.norm)} | ${f(st.rope)} | ${f(st.other)} | ${f(r.peerBlockMs)} | ${r.speedup ? r.speedup.toFixed(2) + '×' : 'n/a'} |`);
    }
    console.log(`peer: ${rows[0]!.peer}`);
    console.log(`foldCommit speedup: tiny ${(rows[0]!.blockMs / rows[1]!.blockMs).toFixed(2)}×, mid ${(rows[2]!.blockMs / rows[3]!.blockMs).toFixed(2)}×; mid 1 → ${THREADS} threads: ${(rows[4]!.blockMs / rows[2]!.blockMs).toFixed(2)}×`);
    return { suite: 'block', threads: THREADS, isa: info.isa, cpu: info.cpuFeatures, blocks: BLOCKS, rows };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

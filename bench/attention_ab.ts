/**
 * Before/after attention check on a shared host: the same shapes timed with two builds of
 * the addon loaded side by side in one process (`--old=<path to an earlier worldcast.node>`,
 * the new one is this tree's test addon), calls interleaved old/new so both see the same machine load.
 * Paged K/V, 2 threads, the strategy each build's Auto picks; medians; GFLOP/s = 4·d·triples/s.
 * node --import tsx bench/attention_ab.ts --old=/path/worldcast.node
 */
import { createRequire } from 'node:module';

import { nativeTesting, type NativeTesting } from '../test/helpers/native_testing.js';

const oldPath = process.argv.find((a) => a.startsWith('--old='))?.slice(6);
if (!oldPath) throw new Error('--old=<path to worldcast.node> is required');
const require = createRequire(import.meta.url);
const OLD = (require(oldPath) as { testing: NativeTesting }).testing;
const NEW = nativeTesting().testing;
const SAMPLES = Number(process.env.AB_SAMPLES ?? 3);
const med = (a: number[]) => a.slice().sort((x, y) => x - y)[a.length >> 1]!;

// [queries, pages, tokens per page, heads, head dim]
const shapes: [number, number, number, number, number][] = [
  [192, 256, 64, 8, 64],
  [768, 512, 64, 2, 64],
  [4680, 256, 64, 1, 64],
  [192, 21, 1560, 12, 128],
  [768, 11, 1560, 2, 128],
  [4680, 21, 1560, 1, 128],
];
console.log(`\nattention before/after in one process (${SAMPLES} interleaved samples each, paged, 2 threads, Auto)`);
console.log('| pages | d | queries | keys | heads | before GFLOP/s | after GFLOP/s | after/before | f32 GEMM GFLOP/s (same time) |');
console.log('|---|---|---|---|---|---|---|---|---|');
const rows = [];
for (const type of ['f32', 'bf16', 'int8'] as const)
  for (const [nq, frames, tpf, heads, hd] of shapes) {
    const flop = 4 * hd * nq * frames * tpf * heads;
    const o: number[] = [], n: number[] = [], g: number[] = [];
    for (let s = 0; s < SAMPLES; s++) {
      o.push(OLD.benchAttention(nq, frames, tpf, heads, hd, type, 1, 'auto').pagesSec);
      n.push(NEW.benchAttention(nq, frames, tpf, heads, hd, type, 1, 'auto', undefined, { samples: 1, which: 'paged' }).pagesSec);
      g.push(med(NEW.benchGemm(768, 1536, 1536, 'f32', 2, 3).seconds));
    }
    const before = flop / med(o) / 1e9, after = flop / med(n) / 1e9, gemm = (2 * 768 * 1536 * 1536) / med(g) / 1e9;
    rows.push({ type, headDim: hd, queries: nq, contextKeys: frames * tpf, heads, before, after, ratio: after / before, gemm });
    console.log(`| ${type} | ${hd} | ${nq} | ${frames * tpf} | ${heads} | ${before.toFixed(1)} | ${after.toFixed(1)} | ${(after / before).toFixed(2)}× | ${gemm.toFixed(1)} |`);
  }
console.log(JSON.stringify(rows));

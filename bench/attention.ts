/**
 * Attention benchmark (`npm run bench -- attention [--baseline=results.json]`): the fused
 * flash kernel over KV pages, 2 threads, at the shapes of the models we run:
 *  - head dim 64 (the mid-size models, 8 heads) over pages of 64 tokens, 1k–32k keys;
 *  - head dim 128 (Wan2.1-1.3B, 12 heads) over pages of 1,560 tokens (one 480×832 latent
 *    frame), 1,560–32,760 keys (1 to 21 frames, Self Forcing's window);
 * for 192 / 768 / 4,680 queries (a block of 3 small frames, 3 mid-size frames, 3 frames at
 * 480×832) and f32 / bf16 / int8 pages. Every shape is timed with both parallel strategies
 * (the Auto choice is checked against the faster one) and, with Auto's strategy, paged vs
 * one contiguous span. Each sample times all three in a rotating order, so the host's drift
 * falls on each alike; times are medians, and the ratios (auto/other, paged/contig) are
 * medians of the per-sample ratios.
 * GFLOP/s = 4·head_dim·(query, key, head) triples / s (the Q·Kᵀ and P·V multiply-adds; for
 * bf16/int8 pages it is the f32-equivalent rate). Heads per shape are chosen to bound the
 * run time (fewer heads at many queries, where every strategy has tasks to spare); the
 * rate is per (query, key, head) triple, so it does not depend on that choice.
 * With --baseline=<an earlier attention-*.json> it prints the after/before ratio per shape.
 */
import { readFileSync } from 'node:fs';

import { nativeTesting } from '../test/helpers/native_testing.js';

type Strategy = 'heads' | 'sequence';
type KvType = 'f32' | 'bf16' | 'int8';

interface Row {
  type: KvType;
  headDim: number;
  queries: number;
  contextKeys: number;
  heads: number;
  tokensPerPage: number;
  headsMs: number;
  sequenceMs: number;
  best: Strategy;
  auto: Strategy;
  autoMs: number;
  /** Median over samples of Auto's paged time over the other strategy's (paired). */
  autoOverOther: number;
  contiguousMs: number;
  /** Median over samples of Auto's paged time over its contiguous time (paired). */
  pagedOverContiguous: number;
  gflops: number;
  baselineGflops?: number;
  speedup?: number;
}

const key = (r: Pick<Row, 'type' | 'headDim' | 'queries' | 'contextKeys'>) => `${r.type}/${r.headDim}/${r.queries}/${r.contextKeys}`;

function loadBaseline(): Map<string, number> {
  const arg = process.argv.find((a) => a.startsWith('--baseline='));
  const m = new Map<string, number>();
  if (!arg) return m;
  const data = JSON.parse(readFileSync(arg.slice('--baseline='.length), 'utf8')) as { rows?: Row[] };
  for (const r of data.rows ?? []) if (typeof r.gflops === 'number') m.set(key(r), r.gflops);
  return m;
}

export async function runAttentionBench(): Promise<unknown> {
  const T = nativeTesting().testing;
  const baseline = loadBaseline();
  const rows: Row[] = [];
  // [headDim, heads at 192 / 768 / 4680 queries, tokens per page, pages per context]
  const dims: [number, Record<number, number>, number, number[]][] = [
    [64, { 192: 8, 768: 2, 4680: 1 }, 64, [16, 64, 256, 512]],
    [128, { 192: 12, 768: 2, 4680: 1 }, 1560, [1, 3, 11, 21]],
  ];
  const only = process.argv.find((a) => a.startsWith('--types='))?.slice('--types='.length).split(',') as KvType[] | undefined;
  const types: KvType[] = only ?? ['f32', 'bf16', 'int8'];
  // The machine's GEMM rate in this run (linear() at a Wan-1.3B shape, 2 threads), the
  // yardstick for the attention rates below: on a shared host both move together.
  const med = (a: number[]) => a.slice().sort((x, y) => x - y)[a.length >> 1]!;
  const gemmRate = (w: 'f32' | 'bf16' | 'int8') => (2 * 768 * 1536 * 1536) / med(T.benchGemm(768, 1536, 1536, w, 2, 9).seconds) / 1e9;
  const gemm = { f32: gemmRate('f32'), bf16: gemmRate('bf16'), int8: gemmRate('int8') };
  for (const type of types)
    for (const [hd, headsAt, tpf, pageCounts] of dims)
      for (const nq of [192, 768, 4680])
        for (const frames of pageCounts) {
          const heads = headsAt[nq];
          const nk = frames * tpf;
          const flop = 4 * hd * nq * nk * heads;
          // about 50 ms of work per timing, at least one call; each sample times Heads and
          // Sequence over the pages and Auto's strategy over one contiguous span, in a rotating
          // order, so the host's drift (seconds long on a shared machine) falls on all three.
          // With 5–7 samples the paired ratios still strayed 5–14% on this host; 15 do not.
          const reps = Math.max(1, Math.round(7.5e9 / flop));
          const samples = flop > 5e10 ? 7 : 15;
          const c = T.benchAttention(nq, frames, tpf, heads, hd, type, reps, undefined, undefined, { samples, compare: true });
          const best: Strategy = c.headsSec <= c.sequenceSec ? 'heads' : 'sequence';
          const autoSec = c.auto === 'heads' ? c.headsSec : c.sequenceSec;
          rows.push({
            type,
            headDim: hd,
            queries: nq,
            contextKeys: nk,
            heads,
            tokensPerPage: tpf,
            headsMs: c.headsSec * 1e3,
            sequenceMs: c.sequenceSec * 1e3,
            best,
            auto: c.auto,
            autoMs: autoSec * 1e3,
            autoOverOther: c.autoOverOther,
            contiguousMs: c.contiguousSec * 1e3,
            pagedOverContiguous: c.pagedOverContiguous,
            gflops: flop / autoSec / 1e9,
          });
          const r = rows[rows.length - 1];
          const b = baseline.get(key(r));
          if (b) {
            r.baselineGflops = b;
            r.speedup = r.gflops / b;
          }
        }
  const gemmEnd = { f32: gemmRate('f32'), bf16: gemmRate('bf16'), int8: gemmRate('int8') };
  console.log(`\nGEMM yardstick (linear 768×1536×1536, 2 threads, GFLOP/s) at the start / end of this run: f32 ${gemm.f32.toFixed(1)} / ${gemmEnd.f32.toFixed(1)}, bf16 ${gemm.bf16.toFixed(1)} / ${gemmEnd.bf16.toFixed(1)}, int8 ${gemm.int8.toFixed(1)} / ${gemmEnd.int8.toFixed(1)}`);
  console.log('\nattention, 2 threads, paged K/V (GFLOP/s = 4·d·triples/s with the strategy Auto picks; medians; /GEMM = over the f32 GEMM rate of this run)');
  console.log('| pages | d | queries | keys | heads | heads ms | sequence ms | best | auto | auto/other | paged/contig | GFLOP/s | /GEMM |' + (baseline.size ? ' before | after/before |' : ''));
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|' + (baseline.size ? '---|---|' : ''));
  const gemmF32 = (gemm.f32 + gemmEnd.f32) / 2;
  for (const r of rows) {
    console.log(
      `| ${r.type} | ${r.headDim} | ${r.queries} | ${r.contextKeys} | ${r.heads} | ${r.headsMs.toFixed(2)} | ${r.sequenceMs.toFixed(2)} | ${r.best} | ${r.auto} | ${r.autoOverOther.toFixed(2)} | ${r.pagedOverContiguous.toFixed(3)} | ${r.gflops.toFixed(1)} | ${(r.gflops / gemmF32).toFixed(2)} |` +
        (baseline.size ? ` ${r.baselineGflops?.toFixed(1) ?? '-'} | ${r.speedup ? r.speedup.toFixed(2) + '×' : '-'} |` : ''),
    );
  }
  // Few queries (a single frame, decode-like) and few heads, where Sequence must win.
  const few: { queries: number; contextKeys: number; heads: number; headsMs: number; sequenceMs: number; best: Strategy; auto: Strategy; autoOverOther: number; oneThreadMs: number; scaling: number }[] = [];
  for (const [nq, frames, heads] of [[16, 64, 2], [16, 512, 2], [64, 256, 1], [192, 64, 1]] as const) {
    const reps = Math.max(1, Math.round(1e10 / (4 * 64 * nq * frames * 64 * heads)));
    const c = T.benchAttention(nq, frames, 64, heads, 64, 'f32', reps, undefined, undefined, { samples: 15, compare: true });
    const one = T.benchAttention(nq, frames, 64, heads, 64, 'f32', reps, 'heads', 1, { samples: 3, which: 'paged' });
    const bestSec = Math.min(c.headsSec, c.sequenceSec);
    few.push({ queries: nq, contextKeys: frames * 64, heads, headsMs: c.headsSec * 1e3, sequenceMs: c.sequenceSec * 1e3, best: c.headsSec <= c.sequenceSec ? 'heads' : 'sequence', auto: c.auto, autoOverOther: c.autoOverOther, oneThreadMs: one.pagesSec * 1e3, scaling: one.pagesSec / bestSec });
  }
  console.log('\nfew queries / few heads (f32, d 64, pages of 64 tokens)');
  console.log('| queries | keys | heads | heads ms | sequence ms | best | auto | auto/other | 1 thread ms | 1→2 threads |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of few)
    console.log(`| ${r.queries} | ${r.contextKeys} | ${r.heads} | ${r.headsMs.toFixed(2)} | ${r.sequenceMs.toFixed(2)} | ${r.best} | ${r.auto} | ${r.autoOverOther.toFixed(2)} | ${r.oneThreadMs.toFixed(2)} | ${r.scaling.toFixed(2)}× |`);
  // Auto is wrong where its strategy is slower than the other by more than 5%, paired
  // sample by sample (the medians of two separately timed runs differ by that much from the
  // host's drift alone).
  const wrong = [...rows, ...few].filter((r) => r.autoOverOther > 1.05);
  console.log(`\nauto picks the slower strategy by more than 5% at ${wrong.length} of ${rows.length + few.length} shapes` + (wrong.length ? `: ${wrong.map((r) => `${'type' in r ? `${r.type}/${r.headDim}/` : 'f32/64/'}${r.queries}/${r.contextKeys} (${r.autoOverOther.toFixed(2)})`).join(', ')}` : ''));
  const over = rows.filter((r) => r.pagedOverContiguous > 1.1);
  console.log(`paged over contiguous (paired): ${Math.min(...rows.map((r) => r.pagedOverContiguous)).toFixed(3)}–${Math.max(...rows.map((r) => r.pagedOverContiguous)).toFixed(3)}; above 1.1 at ${over.length} of ${rows.length} shapes`);
  return { suite: 'attention', gemm: { start: gemm, end: gemmEnd }, rows, few };
}

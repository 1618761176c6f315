/**
 * Attention benchmark (`npm run bench -- attention`): the fused flash kernel over KV pages
 * at 1k–32k keys of context, tokens/s, both parallel strategies (which the Auto choice is
 * measured against), paged vs contiguous, and 1 → 2 thread scaling.
 */
import { nativeTesting } from '../test/helpers/native_testing.js';

interface Row {
  queries: number;
  contextKeys: number;
  heads: number;
  headsMs: number;
  sequenceMs: number;
  best: 'heads' | 'sequence';
  auto: 'heads' | 'sequence';
  pagedOverContiguous: number;
  oneThreadMs: number;
  scaling: number;
  keyTokensPerSec: number;
}

export async function runAttentionBench(): Promise<unknown> {
  const T = nativeTesting().testing;
  const rows: Row[] = [];
  // (queries, frames of 64 tokens, heads): a block of 3×64 tokens, a single frame, and long contexts.
  const shapes: [number, number, number][] = [
    [192, 16, 8], // 1k keys
    [192, 64, 8], // 4k
    [192, 256, 8], // 16k
    [192, 512, 8], // 32k
    [16, 64, 2], // few queries, few heads: where Sequence should win
    [16, 512, 2],
    [64, 256, 1],
  ];
  for (const [nq, frames, heads] of shapes) {
    const reps = Math.max(1, Math.round(2e8 / (nq * frames * 64 * heads * 64 * 4)));
    const h = T.benchAttention(nq, frames, 64, heads, 64, 'f32', reps, 'heads');
    const s = T.benchAttention(nq, frames, 64, heads, 64, 'f32', reps, 'sequence');
    const one = T.benchAttention(nq, frames, 64, heads, 64, 'f32', reps, 'heads', 1);
    const best = h.pagesSec <= s.pagesSec ? 'heads' : 'sequence';
    const bestSec = Math.min(h.pagesSec, s.pagesSec);
    rows.push({
      queries: nq,
      contextKeys: frames * 64,
      heads,
      headsMs: h.pagesSec * 1e3,
      sequenceMs: s.pagesSec * 1e3,
      best,
      auto: h.auto,
      pagedOverContiguous: (best === 'heads' ? h : s).pagesSec / (best === 'heads' ? h : s).contiguousSec,
      oneThreadMs: one.pagesSec * 1e3,
      scaling: one.pagesSec / bestSec,
      keyTokensPerSec: (nq * frames * 64 * heads) / bestSec,
    });
  }
  console.log('\nattention (f32 pages of 64 tokens, head_dim 64, 2 threads; times are the faster of two runs)');
  console.log('| queries | context keys | heads | heads-parallel ms | sequence-parallel ms | best | auto picks | paged/contiguous | 1 thread ms | 1→2 threads | (query, key, head) triples/s |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(`| ${r.queries} | ${r.contextKeys} | ${r.heads} | ${r.headsMs.toFixed(2)} | ${r.sequenceMs.toFixed(2)} | ${r.best} | ${r.auto} | ${r.pagedOverContiguous.toFixed(3)} | ${r.oneThreadMs.toFixed(2)} | ${r.scaling.toFixed(2)}× | ${(r.keyTokensPerSec / 1e6).toFixed(1)} M |`);
  return { suite: 'attention', rows };
}

/**
 * KV memory benchmark (`npm run bench -- kv`):
 *  - memory per session over 1,000 blocks with a window (bytes at block 10 vs 1,000);
 *  - page bytes and internal waste per storage type, int8 vs f32 bytes ratio;
 *  - attention over pages (one span per frame, read in place) vs one contiguous buffer;
 *  - quality of bf16/int8 KV against f32 KV over a 32-block rollout (max abs error, PSNR).
 */
import { loadModel } from '../sdk/src/index.js';
import { nativeTesting } from '../test/helpers/native_testing.js';
import { goldenCases, goldenTensors, tensor } from '../test/helpers/fixtures.js';

const TINY = 'test/fixtures/tiny';

export async function runKvBench(): Promise<unknown> {
  const prompt = tensor(goldenTensors(goldenCases().cases[0]!), 'prompt.0');
  const model = await loadModel(TINY, { threads: 2 });

  // 1. flat memory with a window
  const s = model.createSession({ seed: 1, prompt, localAttnSize: 12, sinkSize: 3 });
  const bytesAt: Record<number, number> = {};
  for (let b = 1; b <= 1000; b++) {
    await s.step();
    if (b === 10 || b === 100 || b === 1000) bytesAt[b] = model.kvStats().usedBytes;
  }
  const flat = { window: 'local_attn_size 12, sink 3', bytesAtBlock10: bytesAt[10]!, bytesAtBlock100: bytesAt[100]!, bytesAtBlock1000: bytesAt[1000]!, ratio: bytesAt[1000]! / bytesAt[10]! };
  await s.close();

  // 2. page sizes and waste per storage type (tiny geometry and a Self Forcing 1.3B-like geometry)
  const pages: Record<string, { pageBytes: number; wastePercent: number }> = {};
  for (const kvDtype of ['f32', 'bf16', 'int8'] as const) {
    const t = model.createSession({ prompt, kvDtype });
    await t.step();
    const st = model.kvStats();
    pages[kvDtype] = { pageBytes: st.bytesByDtype[kvDtype] / 3, wastePercent: st.wastePercent };
    await t.close();
  }
  // Self Forcing 1.3B: 30 layers, dim 1536, 12 heads, 1560 tokens per latent frame (480×832).
  const geo = { layers: 30, tokens: 1560, dim: 1536, heads: 12 };
  const a64 = (n: number) => Math.ceil(n / 64) * 64;
  const wanPage = (elem: number, scales: boolean) => {
    const kv = a64(geo.tokens * geo.dim * elem);
    const sc = scales ? a64(geo.tokens * geo.heads * 4) : 0;
    const alloc = geo.layers * (2 * kv + 2 * sc);
    const payload = geo.layers * (2 * geo.tokens * geo.dim * elem + (scales ? 2 * geo.tokens * geo.heads * 4 : 0));
    return { pageBytes: alloc, wastePercent: (100 * (alloc - payload)) / alloc };
  };
  const wan = { f32: wanPage(4, false), bf16: wanPage(2, false), int8: wanPage(1, true) };

  // 3. attention over pages vs contiguous (one block of 3 frames attending to 21 frames)
  const T = nativeTesting().testing;
  const attn: Record<string, { pagesMs: number; contiguousMs: number; ratio: number }> = {};
  for (const type of ['f32', 'bf16', 'int8'] as const) {
    const r = T.benchAttention(192, 21, 64, 8, 64, type, 5);
    attn[type] = { pagesMs: r.pagesSec * 1e3, contiguousMs: r.contiguousSec * 1e3, ratio: r.pagesSec / r.contiguousSec };
  }

  // 4. quality: 32 blocks, same seed, f32 vs bf16 vs int8 pages
  const rollout = async (kvDtype: 'f32' | 'bf16' | 'int8') => {
    const r = model.createSession({ seed: 7, prompt, kvDtype });
    const out: Float32Array[] = [];
    for (let b = 0; b < 32; b++) out.push((await r.step()).latents);
    await r.close();
    return out;
  };
  const ref = await rollout('f32');
  const quality: Record<string, { maxAbsError: number; psnrDb: number; psnrFirst8Db: number; psnrLast8Db: number }> = {};
  for (const kvDtype of ['bf16', 'int8'] as const) {
    const got = await rollout(kvDtype);
    let maxAbs = 0, peak = 0;
    const mse = (from: number, to: number) => {
      let se = 0, n = 0;
      for (let b = from; b < to; b++)
        for (let i = 0; i < ref[b]!.length; i++) {
          const d = got[b]![i]! - ref[b]![i]!;
          se += d * d;
          n++;
        }
      return se / n;
    };
    for (let b = 0; b < 32; b++)
      for (let i = 0; i < ref[b]!.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(got[b]![i]! - ref[b]![i]!));
        peak = Math.max(peak, Math.abs(ref[b]![i]!));
      }
    const psnr = (m: number) => (m === 0 ? Infinity : 10 * Math.log10((peak * peak) / m));
    quality[kvDtype] = { maxAbsError: maxAbs, psnrDb: psnr(mse(0, 32)), psnrFirst8Db: psnr(mse(0, 8)), psnrLast8Db: psnr(mse(24, 32)) };
  }
  model.close();

  console.log('\nKV memory (tiny fixture model, 2 threads)');
  console.log(`memory with a window (${flat.window}): ${flat.bytesAtBlock10} B at block 10, ${flat.bytesAtBlock100} B at block 100, ${flat.bytesAtBlock1000} B at block 1000 (ratio ${flat.ratio.toFixed(3)})`);
  console.log('| pages | tiny page B | tiny waste % | Self Forcing 1.3B page MiB | 1.3B waste % |');
  console.log('|---|---|---|---|---|');
  for (const k of ['f32', 'bf16', 'int8'] as const)
    console.log(`| ${k} | ${pages[k]!.pageBytes} | ${pages[k]!.wastePercent.toFixed(2)} | ${(wan[k].pageBytes / 2 ** 20).toFixed(1)} | ${wan[k].wastePercent.toFixed(3)} |`);
  console.log(`int8 vs f32 bytes: ${(pages.int8!.pageBytes / pages.f32!.pageBytes).toFixed(3)} (tiny), ${(wan.int8.pageBytes / wan.f32.pageBytes).toFixed(3)} (1.3B)`);
  console.log('attention, 192 queries over 21 frames × 64 tokens, 8 heads × 64 (mean of 5 calls, best of 2 runs):');
  console.log('| pages | per-frame pages ms | contiguous ms | pages / contiguous |');
  console.log('|---|---|---|---|');
  for (const k of ['f32', 'bf16', 'int8'] as const) console.log(`| ${k} | ${attn[k]!.pagesMs.toFixed(2)} | ${attn[k]!.contiguousMs.toFixed(2)} | ${attn[k]!.ratio.toFixed(3)} |`);
  console.log('quality vs f32 KV, 32-block rollout (seed 7), latents:');
  console.log('| pages | max abs error | PSNR dB | PSNR blocks 0-7 | PSNR blocks 24-31 |');
  console.log('|---|---|---|---|---|');
  for (const k of ['bf16', 'int8'] as const) {
    const q = quality[k]!;
    console.log(`| ${k} | ${q.maxAbsError.toExponential(2)} | ${q.psnrDb.toFixed(1)} | ${q.psnrFirst8Db.toFixed(1)} | ${q.psnrLast8Db.toFixed(1)} |`);
  }

  return { suite: 'kv', flat, pages, selfForcing13B: wan, attention: attn, quality };
}

// `npm run bench -- wan`'s pieces, without the big model: the config writer's Wan2.1-1.3B
// shapes, the window's keys per block, the layer scaling and byte extrapolation, the
// options, the streaming checkpoint writer, and one block of a tiny model through the
// worker process the benchmark drives, and the load's memory peak (the checkpoint is not
// held resident beside the weights packed from it).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it, vi } from 'vitest';

import { readSafetensors } from '../sdk/src/safetensors.js';
import { tensorSpecs, writeRandomModelStreaming } from '../bench/random_model.js';
import { SELF_FORCING, WAN_1_3B, blocksFor, linearInLayers, parameterCount, parseWanArgs, printWanReport, scaledSeconds, wanBenchConfig, windowKeys, type WanResult } from '../bench/wan.js';
import { root } from './helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'wc-bench-wan-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('bench wan', () => {
  it('writes configs with Wan2.1-T2V-1.3B shapes at 480×832 and a 21-frame window', () => {
    const c = wanBenchConfig(30);
    expect(c).toMatchObject({ dim: 1536, ffn_dim: 8960, num_heads: 12, num_layers: 30, in_dim: 16, out_dim: 16, text_dim: 4096, text_len: 512, latent_height: 60, latent_width: 104, local_attn_size: 21, sink_size: 0 });
    expect(c.dim / c.num_heads).toBe(128);
    // 1.3B: 30 × (8 dim² + 2 dim·ffn + biases/norms) + embeddings and head
    expect(parameterCount(c)).toBe(1_418_996_800);
    const specs = new Map(tensorSpecs(c).map((s) => [s.name, s.shape]));
    expect(specs.get('blocks.29.ffn.0.weight')).toEqual([8960, 1536]);
    expect(specs.get('text_embedding.0.weight')).toEqual([1536, 4096]);
    expect(specs.get('patch_embedding.weight')).toEqual([1536, 16, 1, 2, 2]);
    expect(specs.get('head.head.weight')).toEqual([64, 1536]);
    expect(specs.has('blocks.30.ffn.0.weight')).toBe(false);
  });

  it('counts the keys each block attends to through the window', () => {
    const o = { framesPerBlock: 3, window: 21, sink: 0, tokensPerFrame: 1560 };
    expect(Array.from({ length: 9 }, (_, b) => windowKeys(b, o))).toEqual([4680, 9360, 14040, 18720, 23400, 28080, 32760, 32760, 32760]);
    expect(windowKeys(10, { ...o, window: -1 })).toBe(33 * 1560);
    expect(windowKeys(9, { ...o, window: 12, sink: 3 })).toBe(12 * 1560);
  });

  it('scales the layers’ time and counts the rest once; extrapolates bytes linearly', () => {
    expect(scaledSeconds({ seconds: 12, layerSeconds: 10 }, 1, 30)).toBe(302);
    expect(scaledSeconds({ seconds: 12, layerSeconds: 10 }, 2, 30)).toBe(152);
    expect(scaledSeconds({ seconds: 5, layerSeconds: 4 }, 30, 30)).toBe(5);
    expect(linearInLayers({ layers: 1, value: 110 }, { layers: 2, value: 210 }, 30)).toBe(3010);
  });

  it('reads its options', () => {
    const o = parseWanArgs(['wan', '--blocks', '2', '--layers=1', '--settings', 'f32/f32,int8/bf16', '--no-rss']);
    expect(o).toMatchObject({ blocks: 2, otherBlocks: 2, layers: 1, rss: false, check: true });
    expect(o.settings).toEqual([{ weights: 'f32', kv: 'f32' }, { weights: 'int8', kv: 'bf16' }]);
    const d = parseWanArgs(['--settings', 'all', '--other-blocks', '1']);
    expect(d.settings).toHaveLength(9);
    expect(blocksFor({ weights: 'bf16', kv: 'bf16' }, d)).toBe(8);
    expect(blocksFor({ weights: 'bf16', kv: 'int8' }, d)).toBe(1);
    expect(parseWanArgs(['--settings=diagonal']).settings.map((s) => `${s.weights}/${s.kv}`)).toEqual(['f32/f32', 'bf16/bf16', 'int8/int8']);
    expect(() => parseWanArgs(['--settings', 'f32/f16'])).toThrow(/weights\/kv/);
    expect(() => parseWanArgs(['--layers', '31'])).toThrow(/at most 30/);
    expect(() => parseWanArgs(['--bogus'])).toThrow(/unknown option/);
  });

  it('reports scaled seconds, ratios to the peer and the targets from a run’s reports', () => {
    const blk = (block: number, seconds: number, layerSeconds: number, cpuSeconds: number) => ({ block, seconds, layerSeconds, cpuSeconds, forwards: 5, keys: 4680 * (block + 1), kvBytesAfter: 0, crossBytes: 0, rssAfter: 1e9 });
    const r: WanResult = {
      suite: 'wan', options: parseWanArgs(['--blocks', '2']), isa: 'avx512', threads: 2, model: { ...WAN_1_3B, parameters: 1.419e9 }, loop: SELF_FORCING,
      timesteps: [1000, 937.5, 833.3, 625], keysPerBlock: [4680, 9360], measuredLayers: 1, check: null, peer: 'PyTorch',
      columns: [
        { name: 'PyTorch fp32', setting: null, reports: [blk(0, 41, 40, 41), blk(1, 61, 60, 61)], ready: {} },
        { name: 'worldcast f32 w / f32 KV', setting: { weights: 'f32', kv: 'f32' }, reports: [blk(0, 21, 20, 42), blk(1, 21, 20, 21)], ready: {} },
      ],
      memory: [], rss: null, rolloutSeconds: 1,
    };
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const d = printWanReport(r);
    const out = log.mock.calls.map((c) => String(c[0])).join('\n');
    log.mockRestore();
    expect(d.scaled['PyTorch fp32']).toEqual([1201, 1801]);
    expect(d.scaled['worldcast f32 w / f32 KV']).toEqual([601, 601]);
    expect(d.ratioToPeer['worldcast f32 w / f32 KV']![0]).toBeCloseTo(1201 / 601, 12);
    expect(d.cpuRatioToPeer['worldcast f32 w / f32 KV']![0]).toBeCloseTo(1201 / (601 * 2), 12); // twice the CPU per wall second
    expect(d.targets[0]).toMatchObject({ want: 2, met: false, at: 0 });
    expect(out).toMatch(/MISSED at block 0 \(wall: lowest 2\.00× at block 0, highest 3\.00×/);
  });

  const tiny = { dim: 256, ffn_dim: 512, num_heads: 2, num_layers: 2, in_dim: 16, out_dim: 16, text_dim: 64, text_len: 16, latent_height: 6, latent_width: 8, local_attn_size: 9 };

  it('streams checkpoints whose first layers are those of a smaller one', () => {
    const small = { ...tiny, dim: 64, ffn_dim: 128, text_dim: 32 };
    writeRandomModelStreaming(join(tmp, 'l1'), { ...small, num_layers: 1 });
    writeRandomModelStreaming(join(tmp, 'l2'), small);
    const a = readSafetensors(join(tmp, 'l1', 'model.safetensors')).tensors;
    const b = readSafetensors(join(tmp, 'l2', 'model.safetensors')).tensors;
    expect(a.size).toBe(tensorSpecs({ ...small, num_layers: 1 }).length);
    for (const [name, t] of a) expect(Buffer.compare(Buffer.from(b.get(name)!.data.buffer), Buffer.from(t.data.buffer)), name).toBe(0);
    expect(b.has('blocks.1.ffn.2.weight')).toBe(true);
    const w = a.get('blocks.0.self_attn.q.weight')!.data;
    const bound = Math.sqrt(3 / 64) * 1.01; // U(-1, 1)·sqrt(3 / fan_in), rounded to bf16
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
  });

  it('loads without holding the mapped checkpoint beside the packed weights', async () => {
    // 4 layers of dim 768 / ffn 3072: a ~76 MB BF16 file packed to ~48 MB of int8 weights.
    // Each tensor's pages are handed back once it is packed, so the load's peak is the
    // weights plus one tensor's f32 copy; holding the file too would add all of its bytes.
    const dir = join(tmp, 'peak');
    writeRandomModelStreaming(dir, { ...tiny, dim: 768, ffn_dim: 3072, num_heads: 6, num_layers: 4 }, { seed: 2 });
    const fileBytes = statSync(join(dir, 'model.safetensors')).size;
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'wan_worker.ts'), JSON.stringify({ dir, weights: 'int8', kv: 'int8', threads: 1 })], { cwd: root, stdio: ['pipe', 'pipe', 'ignore'] });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const ready = (JSON.parse((await lines.next()).value as string) as { ready: { rssStart: Record<string, number>; rssLoaded: Record<string, number>; info: { weightBytes: number } } }).ready;
    child.stdin.end('end\n');
    await new Promise((r) => child.on('close', r));
    expect(fileBytes).toBeGreaterThan(70e6);
    const grew = ready.rssLoaded.VmHWM! - ready.rssStart.VmRSS!;
    expect(grew).toBeGreaterThan(ready.info.weightBytes * 0.9);
    expect(grew).toBeLessThan(ready.info.weightBytes + fileBytes / 2);
  });

  it('runs a block of a tiny model through the worker the benchmark drives', async () => {
    writeRandomModelStreaming(join(tmp, 'worker'), tiny, { seed: 5 });
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'wan_worker.ts'), JSON.stringify({ dir: join(tmp, 'worker'), weights: 'int8', kv: 'int8', threads: 2 })], { cwd: root, stdio: ['pipe', 'pipe', 'ignore'] });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const next = async () => JSON.parse((await lines.next()).value as string) as Record<string, Record<string, unknown>>;
    const ready = (await next()).ready!;
    expect(ready).toMatchObject({ layers: 2, tokensPerBlock: 36, steps: 4 });
    child.stdin.write('step\n');
    const blk = (await next()).block!;
    expect(blk).toMatchObject({ block: 0, forwards: 5, keys: 36, kvFramesAfter: 3 });
    expect(blk.layerSeconds as number).toBeGreaterThan(0);
    expect(blk.layerSeconds as number).toBeLessThanOrEqual(blk.seconds as number);
    child.stdin.end('end\n');
    const end = (await next()).end!;
    expect((end.kvStats as { bytesByDtype: { int8: number } }).bytesByDtype.int8).toBeGreaterThan(0);
    expect((end.info as { weights: string }).weights).toBe('int8');
    await new Promise((r) => child.on('close', r));
  });
});

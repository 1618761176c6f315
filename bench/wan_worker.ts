/**
 * One engine process of `npm run bench -- wan` (bench/wan.ts), driven over stdin/stdout
 * one JSON line at a time so the runner can interleave the settings and the PyTorch peer
 * block by block (a load change on a shared machine then hits every column alike), and so
 * each RSS figure is that setting's process alone.
 *
 *   node --import tsx bench/wan_worker.ts '{"dir": "...", "weights": "int8", "kv": "int8"}'
 *     prints {"ready": ...} after loading, then one line per `step` it reads ({block: ...}),
 *     and {"end": ...} (kvStats, RSS) after `end`.
 *   node --import tsx bench/wan_worker.ts '{"sizes": ["dir1", "dir2"], "weights": "bf16", "kv": "bf16"}'
 *     loads each directory and prints its weight bytes and KV page bytes (no blocks).
 *
 * Per block: wall seconds on the engine thread, the seconds inside the transformer layers
 * (the sum of the profiler's `layer` scopes), this process's CPU seconds, keys attended,
 * KV held, RSS. With `inputs` (a safetensors file of `prompt` and `noise.b{b}.s{i}`) the
 * blocks take that prompt and noise; with `out` each block's x0 is written there as `x0.b{b}`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

import { loadModel, profiler } from '../sdk/src/index.js';
import { decodeSafetensors, encodeSafetensors, type Tensor } from '../sdk/src/safetensors.js';
import type { KvDType } from '../sdk/src/kvtypes.js';
import type { WeightType } from '../sdk/src/types.js';

export interface WorkerArgs {
  dir?: string;
  /** Load each directory and report its weight and KV page bytes only (no blocks). */
  sizes?: string[];
  weights: WeightType;
  kv: KvDType;
  threads?: number;
  promptRows?: number;
  inputs?: string;
  out?: string;
}

/** VmRSS / VmHWM / RssAnon / RssFile of this process in bytes (Linux; {} elsewhere). */
function rssStatus(): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const line of readFileSync('/proc/self/status', 'utf8').split('\n')) {
      const m = /^(VmRSS|VmHWM|RssAnon|RssFile):\s+(\d+) kB/.exec(line);
      if (m) out[m[1]!] = Number(m[2]) * 1024;
    }
  } catch {
    // not Linux
  }
  return out;
}

/** Reset VmHWM to the current RSS (Linux: 5 into /proc/self/clear_refs). */
function resetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

const say = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');

async function sizes(a: WorkerArgs): Promise<void> {
  const rows = [];
  for (const dir of a.sizes!) {
    const model = await loadModel(dir, { threads: a.threads ?? 2, weights: a.weights, kv: { dtype: a.kv }, decoder: null });
    rows.push({ dir, layers: model.config.num_layers, weightBytes: model.info().weightBytes, pageBytes: model.kvStats().pages.pageBytes });
    model.close();
  }
  say({ sizes: rows });
}

async function serve(a: WorkerArgs): Promise<void> {
  const threads = a.threads ?? 2;
  const rssStart = rssStatus();
  const t0 = performance.now();
  const model = await loadModel(a.dir!, { threads, weights: a.weights, kv: { dtype: a.kv }, decoder: null });
  const loadSeconds = (performance.now() - t0) / 1e3;
  const c = model.config;
  const s = model.createSession({ seed: 1, kvDtype: a.kv });
  const inputs = a.inputs ? decodeSafetensors(readFileSync(a.inputs)).tensors : null;
  let prompt: Float32Array;
  if (inputs) {
    prompt = inputs.get('prompt')!.data;
  } else {
    const rows = Math.min(a.promptRows ?? 20, c.text_len);
    prompt = new Float32Array(rows * c.text_dim).map((_, i) => Math.sin(i * 0.37));
  }
  await s.setPrompt(prompt);
  const layout = s.layout;
  const tokensPerFrame = (layout.height / c.patch_size[1]) * (layout.width / c.patch_size[2]);
  const rssLoaded = rssStatus();
  const peakReset = resetPeak(); // the peak from here on: the blocks, not the load's mapped checkpoint
  say({ ready: { weights: a.weights, kv: a.kv, threads, layers: c.num_layers, tokensPerBlock: layout.frames * tokensPerFrame, steps: layout.steps, timesteps: layout.timesteps, loadSeconds, info: model.info(), rssStart, rssLoaded, peakReset } });
  const out: Record<string, Tensor> = {};
  let b = 0;
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = line.trim();
    if (cmd === 'end') break;
    if (cmd !== 'step') continue;
    const noise = inputs ? Array.from({ length: layout.steps }, (_, i) => inputs.get(`noise.b${b}.s${i}`)!.data) : undefined;
    const framesBefore = (await s.stats()).kvFrames; // the pruned page table: only frames a block can still select
    const cpu0 = process.cpuUsage();
    profiler.start();
    const blk = await s.step({ noise, decode: false });
    const events = profiler.stop().events;
    const cpu = process.cpuUsage(cpu0);
    const layerSeconds = events.filter((e) => e.name === 'layer').reduce((t, e) => t + e.dur, 0) / 1e6;
    const st = await s.stats();
    console.error(`worldcast ${a.weights} w / ${a.kv} KV block ${b}: ${blk.seconds.toFixed(2)} s (${layerSeconds.toFixed(2)} s in ${c.num_layers} layers, ${blk.forwards} forwards)`);
    if (a.out) out[`x0.b${b}`] = { shape: [blk.channels, blk.frames, blk.height, blk.width], data: blk.latents };
    say({
      block: {
        block: b,
        seconds: blk.seconds,
        layerSeconds,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        forwards: blk.forwards,
        keys: (framesBefore + blk.frames) * tokensPerFrame,
        kvFramesAfter: st.kvFrames,
        kvBytesAfter: st.kvBytes,
        crossBytes: st.crossBytes,
        times: blk.times,
        rssAfter: rssStatus().VmRSS ?? 0,
      },
    });
    b++;
  }
  const kvStats = model.kvStats();
  const info = model.info();
  const rssEnd = rssStatus();
  await s.close();
  model.close();
  if (a.out) writeFileSync(a.out, encodeSafetensors(out));
  say({ end: { info, kvStats, rssEnd } });
  process.stdin.destroy(); // nothing more to read: let the process exit even if the runner keeps stdin open
}

const a = JSON.parse(process.argv[2] ?? '{}') as WorkerArgs;
await (a.sizes ? sizes(a) : serve(a));

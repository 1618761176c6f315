/**
 * Real-size benchmark (`npm run bench -- wan [options]`): a model with Wan2.1-T2V-1.3B's
 * shapes (dim 1536, 30 layers, 12 heads × 128, ffn 8960, text 512 × 4096; random weights),
 * 480×832 video (60×104 latents), Self Forcing's sampler (4 denoising forwards + 1 commit
 * forward per block of 3 latent frames) and 21-frame KV window (sink 0): seconds per block
 * for the first blocks of a rollout, weight / KV bytes and RSS, for f32 / bf16 / int8
 * weights × f32 / bf16 / int8 KV, against the PyTorch reference (tools/reference/
 * bench_wan.py: wan_causal.py in fp32) on the same weights and threads in the same run.
 *
 * What is measured and what is scaled: a block of the full model takes ~30 times a
 * 1-layer block, so the rollout runs `--layers L` of the 30 layers (the checkpoint's
 * blocks.0 … L-1). Per block the time inside those layers (worldcast: the profiler's
 * `layer` scopes; PyTorch: AttentionBlock.forward) is scaled by 30 / L and the rest of the
 * block (patch and time embedding, head, sampler; at block 0 the prompt's text embedding
 * and cross-attention K/V) is counted once. Weight and KV bytes of the 30-layer model are
 * extrapolated exactly from 1- and 2-layer loads (they are linear in the layers) and, for
 * int8 weights + int8 KV, measured on the real 30-layer model (`--rss-blocks`, default 1
 * block), whose full-window RSS is that measurement plus the pages the window adds.
 *
 * Every setting and the peer is a process of its own (bench/wan_worker.ts), all started
 * first and then stepped block by block in turn, so a load change on a shared machine
 * hits every column alike; each process's CPU seconds are reported next to its wall time.
 * A small Wan-shaped check runs first: worldcast f32 and the peer on the same weights,
 * prompt and noise over 4 blocks of a rolling window must give the same latents.
 *
 * Options: --blocks N (8) --other-blocks N (off-diagonal settings; default --blocks)
 * --layers L (1) --settings all|diagonal|w/kv,… (all) --threads N (2) --rss-blocks N (1;
 * 0: load only) --no-rss --no-check --no-peer (or WORLDCAST_BENCH_NO_PEER=1); --from FILE
 * reprints the report of an earlier run's JSON (bench/results/wan-*.json) without running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { decodeSafetensors, writeSafetensors, type Tensor } from '../sdk/src/safetensors.js';
import type { KvDType } from '../sdk/src/kvtypes.js';
import type { WeightType } from '../sdk/src/types.js';
import { nativeTesting } from '../test/helpers/native_testing.js';
import { TORCH_PYTHON, torchAvailable, torchEnv } from './common.js';
import { tensorSpecs, writeRandomModelStreaming, type BenchConfig } from './random_model.js';
import type { WorkerArgs } from './wan_worker.js';

/** Wan2.1-T2V-1.3B's transformer shapes (upstream config of the 1.3B model). */
export const WAN_1_3B = { dim: 1536, ffn_dim: 8960, num_heads: 12, num_layers: 30, in_dim: 16, out_dim: 16, text_dim: 4096, text_len: 512 } as const;

/** Self Forcing's loop at 480×832: 3 latent frames per block, a 21-frame window, no sink. */
export const SELF_FORCING = { framesPerBlock: 3, window: 21, sink: 0, latentHeight: 60, latentWidth: 104 } as const;

const TYPES = ['f32', 'bf16', 'int8'] as const;

/** One weights × KV setting. */
export interface Setting {
  weights: WeightType;
  kv: KvDType;
}

export interface WanOptions {
  blocks: number;
  otherBlocks: number;
  layers: number;
  settings: Setting[];
  threads: number;
  rss: boolean;
  rssBlocks: number;
  check: boolean;
  peer: boolean;
  /** Reprint the report of an earlier run's JSON instead of running. */
  from?: string;
}

/** A model with Wan2.1-1.3B's shapes and `layers` layers, at Self Forcing's 480×832 loop. */
export function wanBenchConfig(layers: number, opts: { latentHeight?: number; latentWidth?: number; window?: number } = {}): BenchConfig {
  const { num_layers: _, ...shapes } = WAN_1_3B;
  return {
    ...shapes,
    num_layers: layers,
    latent_height: opts.latentHeight ?? SELF_FORCING.latentHeight,
    latent_width: opts.latentWidth ?? SELF_FORCING.latentWidth,
    local_attn_size: opts.window ?? SELF_FORCING.window,
    sink_size: SELF_FORCING.sink,
  };
}

/** Parameters of a checkpoint (all tensors). */
export function parameterCount(c: BenchConfig): number {
  return tensorSpecs(c).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

/** Keys block `block` attends to: the frames its window selects plus its own, times tokens per frame. */
export function windowKeys(block: number, o: { framesPerBlock: number; window: number; sink: number; tokensPerFrame: number }): number {
  const committed = block * o.framesPerBlock;
  const sink = Math.min(committed, o.sink);
  const recent = o.window < 0 ? committed - sink : Math.min(committed - sink, o.window - o.sink - o.framesPerBlock);
  return (sink + recent + o.framesPerBlock) * o.tokensPerFrame;
}

/** A block's seconds at `total` layers from a run of `timed`: the layers' time scaled, the rest once. */
export function scaledSeconds(b: { seconds: number; layerSeconds: number }, timed: number, total: number): number {
  return b.seconds - b.layerSeconds + (b.layerSeconds * total) / timed;
}

/** A quantity linear in the layer count, at `layers`, from its values at two layer counts. */
export function linearInLayers(a: { layers: number; value: number }, b: { layers: number; value: number }, layers: number): number {
  return a.value + ((b.value - a.value) / (b.layers - a.layers)) * (layers - a.layers);
}

function parseSettings(s: string): Setting[] {
  if (s === 'all') return TYPES.flatMap((weights) => TYPES.map((kv) => ({ weights, kv })));
  if (s === 'diagonal') return TYPES.map((t) => ({ weights: t, kv: t }));
  return s.split(',').map((x) => {
    const [weights, kv] = x.split('/');
    if (!TYPES.includes(weights as never) || !TYPES.includes(kv as never)) throw new Error(`--settings: "${x}" is not weights/kv with each of ${TYPES.join(', ')}`);
    return { weights: weights as WeightType, kv: kv as KvDType };
  });
}

/** Options from the command line (`--key value` or `--key=value`). */
export function parseWanArgs(argv: string[]): WanOptions {
  const o: WanOptions = { blocks: 8, otherBlocks: -1, layers: 1, settings: parseSettings('all'), threads: Number(process.env.WORLDCAST_THREADS ?? 2), rss: true, rssBlocks: 1, check: true, peer: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    const key = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const value = () => (eq > 0 ? arg.slice(eq + 1) : argv[++i] ?? '');
    const int = (min: number) => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new Error(`--${key}: "${v}" is not an integer >= ${min}`);
      return n;
    };
    if (key === 'blocks') o.blocks = int(1);
    else if (key === 'other-blocks') o.otherBlocks = int(1);
    else if (key === 'layers') o.layers = int(1);
    else if (key === 'threads') o.threads = int(1);
    else if (key === 'rss-blocks') o.rssBlocks = int(0);
    else if (key === 'settings') o.settings = parseSettings(value());
    else if (key === 'no-rss') o.rss = false;
    else if (key === 'no-check') o.check = false;
    else if (key === 'no-peer') o.peer = false;
    else if (key === 'from') o.from = value();
    else throw new Error(`unknown option --${key} (see bench/wan.ts)`);
  }
  if (o.layers > WAN_1_3B.num_layers) throw new Error(`--layers: at most ${WAN_1_3B.num_layers}`);
  if (o.otherBlocks < 0) o.otherBlocks = o.blocks;
  if (process.env.WORLDCAST_BENCH_NO_PEER === '1') o.peer = false;
  return o;
}

/** Blocks a setting runs: --blocks on the diagonal (same type for weights and KV), else --other-blocks. */
export function blocksFor(s: Setting, o: WanOptions): number {
  return s.weights === s.kv ? o.blocks : o.otherBlocks;
}

/** One block as a worker (or the peer) reports it. */
interface BlockReport {
  block: number;
  seconds: number;
  layerSeconds: number;
  cpuSeconds: number;
  forwards: number;
  keys: number;
  kvBytesAfter: number;
  crossBytes: number;
  rssAfter: number;
  kvFramesAfter?: number;
  times?: Record<string, number>;
}

/** A child speaking one JSON object per line on stdout (its stderr goes to ours). */
class LineProcess {
  readonly #child: ChildProcess;
  readonly #lines: string[] = [];
  #waiting: ((line: string | null) => void) | null = null;
  #closed = false;
  constructor(cmd: string, args: string[], env?: NodeJS.ProcessEnv) {
    this.#child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'], env: env ?? process.env });
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      if (this.#waiting) {
        const w = this.#waiting;
        this.#waiting = null;
        w(line);
      } else this.#lines.push(line);
    });
    this.#child.on('close', () => {
      this.#closed = true;
      this.#waiting?.(null);
      this.#waiting = null;
    });
  }
  /** The next JSON object; rejects if the process exits first. */
  async next<T>(what: string): Promise<T> {
    const line = this.#lines.shift() ?? (this.#closed ? null : await new Promise<string | null>((r) => (this.#waiting = r)));
    if (line === null) throw new Error(`${what}: the process exited (code ${this.#child.exitCode}) before answering`);
    return JSON.parse(line) as T;
  }
  send(cmd: string): void {
    this.#child.stdin!.write(cmd + '\n');
  }
  async end<T>(what: string): Promise<T> {
    this.send('end');
    const r = await this.next<T>(what);
    this.#child.stdin!.end();
    await new Promise<void>((res) => (this.#closed ? res() : this.#child.on('close', () => res())));
    return r;
  }
  kill(): void {
    if (!this.#closed) this.#child.kill();
  }
}

const WORKER = join(process.cwd(), 'bench', 'wan_worker.ts');
const PEER = join(process.cwd(), 'tools', 'reference', 'bench_wan.py');

function startWorker(a: WorkerArgs): LineProcess {
  return new LineProcess(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(a)]);
}

function startPeer(dir: string, threads: number, extra: string[] = []): LineProcess {
  return new LineProcess(TORCH_PYTHON, [PEER, dir, '--serve', '--threads', String(threads), ...extra], torchEnv({ OMP_WAIT_POLICY: 'PASSIVE' }));
}

/** The run's columns: the peer, then each setting. */
interface Column {
  name: string;
  setting?: Setting;
  blocks: number;
  proc: LineProcess;
  ready: Record<string, unknown>;
  reports: BlockReport[];
  end?: Record<string, unknown>;
}

async function stepAll(columns: Column[], maxBlocks: number): Promise<void> {
  for (let b = 0; b < maxBlocks; b++) {
    for (const c of columns) {
      if (b >= c.blocks) continue;
      c.proc.send('step');
      c.reports.push((await c.proc.next<{ block: BlockReport }>(`${c.name} block ${b}`)).block);
      if (b === c.blocks - 1) c.end = (await c.proc.end<{ end: Record<string, unknown> }>(`${c.name} end`)).end;
    }
  }
}

const settingName = (s: Setting) => `${s.weights} w / ${s.kv} KV`;
const gb = (bytes: number) => (bytes / 1e9).toFixed(2);

/** The small Wan-shaped check: worldcast f32/f32 vs the peer on the same weights, prompt and noise. */
async function check(tmp: string, threads: number): Promise<Record<string, unknown>> {
  const c: BenchConfig = { dim: 256, ffn_dim: 512, num_heads: 2, num_layers: 2, in_dim: 16, out_dim: 16, text_dim: 64, text_len: 16, latent_height: 6, latent_width: 8, local_attn_size: 9, sink_size: 0 };
  const dir = join(tmp, 'check');
  writeRandomModelStreaming(dir, c, { seed: 3 });
  const blocks = 4;
  let s = 7;
  const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296) * 2 - 1;
  const t: Record<string, Tensor> = { prompt: { shape: [5, c.text_dim], data: new Float32Array(5 * c.text_dim).map(r) } };
  for (let b = 0; b < blocks; b++)
    for (let i = 0; i < 4; i++) t[`noise.b${b}.s${i}`] = { shape: [16, 3, 6, 8], data: new Float32Array(16 * 3 * 48).map(() => 1.7 * r()) };
  const inputs = join(tmp, 'check_inputs.safetensors');
  writeSafetensors(inputs, t);
  const outWc = join(tmp, 'check_wc.safetensors');
  const outPt = join(tmp, 'check_pt.safetensors');
  const columns: Column[] = [];
  const wc = startWorker({ dir, weights: 'f32', kv: 'f32', threads, inputs, out: outWc });
  columns.push({ name: 'worldcast check', blocks, proc: wc, ready: (await wc.next<{ ready: Record<string, unknown> }>('check worker')).ready, reports: [] });
  const pt = startPeer(dir, threads, ['--inputs', inputs, '--out', outPt]);
  columns.push({ name: 'PyTorch check', blocks, proc: pt, ready: (await pt.next<{ ready: Record<string, unknown> }>('check peer')).ready, reports: [] });
  await stepAll(columns, blocks);
  const a = decodeSafetensors(readFileSync(outWc)).tensors;
  const p = decodeSafetensors(readFileSync(outPt)).tensors;
  const maxAbs: number[] = [];
  let scale = 0;
  for (let b = 0; b < blocks; b++) {
    const x = a.get(`x0.b${b}`)!.data;
    const y = p.get(`x0.b${b}`)!.data;
    let m = 0;
    for (let i = 0; i < x.length; i++) {
      m = Math.max(m, Math.abs(x[i]! - y[i]!));
      scale = Math.max(scale, Math.abs(y[i]!));
    }
    maxAbs.push(m);
  }
  const same = (k: 'forwards' | 'keys') => columns[0]!.reports.every((w, i) => w[k] === columns[1]!.reports[i]![k]);
  return {
    config: c,
    blocks,
    maxAbsX0: maxAbs,
    maxAbsValue: scale,
    forwards: columns[0]!.reports.map((w) => w.forwards),
    keys: columns[0]!.reports.map((w) => w.keys),
    sameForwards: same('forwards'),
    sameKeys: same('keys'),
    tokensPerBlock: [columns[0]!.ready.tokensPerBlock, columns[1]!.ready.tokens_per_block],
    timesteps: [columns[0]!.ready.timesteps, columns[1]!.ready.timesteps],
  };
}

/** Memory of one column at 30 layers. */
interface MemoryRow {
  name: string;
  weightBytes30: number;
  kvBytesFullWindow30: number;
  crossBytes30: number;
  peakRssTimed: number;
  estRss30: number;
}

/** What a run measured (the JSON in bench/results, and what `--from FILE` reprints). */
export interface WanResult {
  suite: 'wan';
  options: WanOptions;
  isa: string;
  threads: number;
  model: Record<string, number>;
  loop: typeof SELF_FORCING;
  timesteps: number[];
  keysPerBlock: number[];
  measuredLayers: number;
  check: Record<string, unknown> | null;
  peer: string | null;
  columns: { name: string; setting: Setting | null; reports: BlockReport[]; ready: Record<string, unknown>; end?: Record<string, unknown> }[];
  memory: MemoryRow[];
  rss: {
    measured: Record<string, unknown>;
    pageBytes: number;
    heldFrames: number;
    peakBlocks: number;
    workspaceBytes?: number;
    fullWindowBytes: number;
    limitBytes: number;
    met: boolean;
  } | null;
  rolloutSeconds: number;
}

/** The figures derived from a run's reports (returned with it and printed). */
interface Derived {
  scaled: Record<string, number[]>;
  ratioToPeer: Record<string, number[]>;
  cpuRatioToPeer: Record<string, number[]>;
  targets: { setting: Setting; want: number; min: number; at: number; max: number; met: boolean; cpuMin: number }[];
}

/** Print a run's report (the tables, the targets, the 30-layer RSS) and return the derived figures. */
export function printWanReport(r: WanResult): Derived {
  const total = r.model.num_layers!;
  const L = r.measuredLayers;
  const o = r.options;
  const tpf = (r.loop.latentHeight / 2) * (r.loop.latentWidth / 2);
  const d: Derived = { scaled: {}, ratioToPeer: {}, cpuRatioToPeer: {}, targets: [] };
  const c0 = r.check;
  if (c0) {
    console.log(`setup check (worldcast f32 vs PyTorch, same weights/prompt/noise, dim 256, 2 heads × 128, 2 layers, window 9 over 4 blocks): max |Δx0| per block ${(c0.maxAbsX0 as number[]).map((v) => v.toExponential(1)).join(', ')} (values up to ${(c0.maxAbsValue as number).toFixed(2)}); forwards per block ${(c0.forwards as number[]).join(', ')}, keys ${(c0.keys as number[]).join(', ')}: ${c0.sameForwards && c0.sameKeys ? 'the same on both' : 'DIFFERENT'}`);
  }
  const maxBlocks = Math.max(...r.columns.map((c) => c.reports.length));
  console.log(`\nwan: Wan2.1-T2V-1.3B shapes (dim ${r.model.dim}, ${total} layers, ${r.model.num_heads} heads × ${r.model.dim! / r.model.num_heads!}, ffn ${r.model.ffn_dim}, text ${r.model.text_len} × ${r.model.text_dim}; random weights, ${(r.model.parameters! / 1e9).toFixed(2)} B parameters), 480×832 = ${r.loop.latentHeight}×${r.loop.latentWidth} latents (${tpf} tokens/frame, ${r.loop.framesPerBlock * tpf}/block)`);
  console.log(`sampler: Self Forcing's, per block of ${r.loop.framesPerBlock} latent frames ${r.timesteps.length} denoising forwards (t = ${r.timesteps.map((t) => +t.toFixed(1)).join(', ')}) + 1 commit forward at t = 0; KV window ${r.loop.window} frames, sink ${r.loop.sink}: keys per block ${r.keysPerBlock.join(', ')}`);
  console.log(`threads: ${r.threads} for every column (engine pool; torch.set_num_threads), ${r.isa} kernels; each column its own process, stepped in turn block by block`);
  console.log(`peer: ${r.peer ?? 'not run'}`);
  console.log(`measured: ${L} of ${total} layers (blocks.0${L > 1 ? `..${L - 1}` : ''}); per block the seconds inside ${L === 1 ? 'that layer' : 'those layers'} × ${total}/${L} (worldcast: profiler 'layer' scopes; PyTorch: AttentionBlock.forward) + the rest once (patch/time embedding, head, sampler; block 0 also the prompt's text embedding and cross-attention K/V, whose per-layer projections are therefore not scaled: < 0.3% of block 0)`);
  const peerCol = r.columns.find((c) => !c.setting);
  const scaled = (c: WanResult['columns'][number]) => c.reports.map((b) => scaledSeconds(b, L, total));
  const use = (b: BlockReport) => b.cpuSeconds / b.seconds;
  const peerScaled = peerCol ? scaled(peerCol) : [];
  const cols = Array.from({ length: maxBlocks }, (_, b) => `block ${b}`);
  const table = (title: string, cell: (c: WanResult['columns'][number], b: number) => string) => {
    console.log(`\n${title}`);
    console.log(`| | ${cols.join(' | ')} |`);
    console.log(`|---|${cols.map(() => '---').join('|')}|`);
    for (const c of r.columns) console.log(`| ${c.name} | ${cols.map((_, b) => (b < c.reports.length ? cell(c, b) : '–')).join(' | ')} |`);
  };
  for (const c of r.columns) {
    const sc = scaled(c);
    d.scaled[c.name] = sc;
    if (!c.setting || !peerCol) continue;
    d.ratioToPeer[c.name] = sc.map((v, b) => (peerScaled[b] !== undefined ? peerScaled[b]! / v : NaN));
    // CPU seconds instead of wall seconds: the columns' shares of a loaded machine differ
    // (PyTorch's passive OpenMP threads give up their core between regions, the engine's
    // pool spins a little first), and a spin counts as work here, so this ratio is the
    // conservative one.
    d.cpuRatioToPeer[c.name] = sc.map((v, b) => (peerScaled[b] !== undefined ? (peerScaled[b]! * use(peerCol.reports[b]!)) / (v * use(c.reports[b]!)) : NaN));
  }
  table(`seconds per block at ${total} layers (ratio: PyTorch ÷ worldcast at the same block, wall time)`, (c, b) => `${d.scaled[c.name]![b]!.toFixed(0)} s${c.setting && peerCol ? ` ${d.ratioToPeer[c.name]![b]!.toFixed(2)}×` : ''}`);
  if (peerCol) {
    table('CPU use per block (process CPU seconds ÷ wall seconds; the machine is shared, full use is the thread count) and, for worldcast, the ratio in CPU seconds (conservative: the engine pool\'s spin-waits count as work)', (c, b) => `${use(c.reports[b]!).toFixed(2)}${c.setting ? ` ${d.cpuRatioToPeer[c.name]![b]!.toFixed(2)}×` : ''}`);
  }
  console.log(`\nmemory at ${total} layers (weights and KV extrapolated exactly from 1- and 2-layer loads; KV = the ${r.loop.window}-frame window; RSS measured on the ${L}-layer process, peak over its blocks; the estimate adds what 30 layers and the full window add to that peak)`);
  console.log('| | weights GB | KV GB (full window) | cross-attn cache GB | peak RSS GB, timed process | est. RSS GB at 30 layers, full window |');
  console.log('|---|---|---|---|---|---|');
  for (const m of r.memory) console.log(`| ${m.name} | ${gb(m.weightBytes30)} | ${gb(m.kvBytesFullWindow30)} | ${gb(m.crossBytes30)} | ${gb(m.peakRssTimed)} | ${gb(m.estRss30)} |`);
  console.log('');
  const target = (s: Setting, want: number) => {
    const name = r.columns.find((c) => c.setting?.weights === s.weights && c.setting.kv === s.kv)?.name;
    const ratios = name ? d.ratioToPeer[name] ?? [] : [];
    if (!ratios.length || ratios.some(Number.isNaN)) return;
    const min = Math.min(...ratios);
    const at = ratios.indexOf(min);
    const max = Math.max(...ratios);
    const cpuMin = Math.min(...d.cpuRatioToPeer[name!]!);
    const below = ratios.map((x, b) => (x < want ? b : -1)).filter((b) => b >= 0);
    d.targets.push({ setting: s, want, min, at, max, met: min >= want, cpuMin });
    console.log(`target ${settingName(s)} ≥ ${want}× PyTorch at every block: ${min >= want ? 'met' : `MISSED at block${below.length > 1 ? 's' : ''} ${below.join(', ')}`} (wall: lowest ${min.toFixed(2)}× at block ${at}, highest ${max.toFixed(2)}×, over ${ratios.length} blocks; CPU seconds: lowest ${cpuMin.toFixed(2)}×)`);
  };
  target({ weights: 'f32', kv: 'f32' }, 2);
  target({ weights: 'bf16', kv: 'bf16' }, 4);
  target({ weights: 'int8', kv: 'int8' }, 5);
  if (r.rss) {
    const x = r.rss;
    const ready = x.measured.ready as { rssLoaded: Record<string, number>; loadSeconds: number };
    const end = x.measured.end as { info: { weightBytes: number } };
    const reps = x.measured.blocks as BlockReport[];
    const int8 = r.columns.find((c) => c.setting?.weights === 'int8' && c.setting.kv === 'int8');
    const int8Scaled = int8 ? d.scaled[int8.name]! : [];
    const vsScaled = reps.map((b, i) => (int8Scaled[i] !== undefined ? ` (scaled from ${L} layer${L > 1 ? 's' : ''} in the rollout: ${int8Scaled[i]!.toFixed(0)} s)` : '')).join(', ');
    console.log(`\n${total}-layer model, int8 weights + int8 KV, loaded for real (${gb(end.info.weightBytes)} GB of weights, load ${ready.loadSeconds.toFixed(0)} s, load peak ${gb(ready.rssLoaded.VmHWM!)} GB):`);
    console.log(`  measured: RSS after load ${gb(ready.rssLoaded.VmRSS!)} GB; ${reps.length} block(s) run${reps.length ? ` in ${reps.map((b) => b.seconds.toFixed(0) + ' s').join(', ')}${vsScaled}, peak RSS over them ${gb(x.peakBlocks)} GB holding ${x.heldFrames} KV frames` : ''}; KV page (one frame, all ${total} layers) ${(x.pageBytes / 1e6).toFixed(1)} MB`);
    console.log(`  computed: the full ${r.loop.window}-frame window = that ${reps.length ? 'peak' : 'RSS'} + ${r.loop.window - x.heldFrames} more pages${reps.length ? '' : ` + the forward's workspace (${gb(x.workspaceBytes ?? 0)} GB, from the timed int8 process) + the prompt cache`} = ${gb(x.fullWindowBytes)} GB → target ≤ ${gb(x.limitBytes)} GB ${x.met ? 'met' : `MISSED by ${gb(x.fullWindowBytes - x.limitBytes)} GB`} (the window's KV alone is ${gb(r.loop.window * x.pageBytes)} GB, the weights ${gb(end.info.weightBytes)} GB)`);
  }
  console.log(`\nrollout wall time ${(r.rolloutSeconds / 60).toFixed(1)} min (${r.columns.length} columns${o.otherBlocks !== o.blocks ? `; off-diagonal settings ran ${o.otherBlocks} of the ${o.blocks} blocks` : ''})`);
  return d;
}

export async function runWanBench(argv: string[] = process.argv.slice(2)): Promise<unknown> {
  const o = parseWanArgs(argv);
  if (o.from) {
    const r = JSON.parse(readFileSync(o.from, 'utf8')) as WanResult;
    return { ...r, ...printWanReport(r), reprintedFrom: o.from };
  }
  const peer = o.peer && torchAvailable();
  const total = WAN_1_3B.num_layers;
  const L = o.layers;
  const isa = nativeTesting().testing.cpu().best;
  const tmp = mkdtempSync(join(tmpdir(), 'wc-wan-'));
  const live: LineProcess[] = [];
  try {
    // 1. The setup check at a small Wan shape (head size 128, rolling window).
    let checked: Record<string, unknown> | null = null;
    if (o.check && peer) {
      checked = await check(tmp, o.threads);
    }

    // 2. Checkpoints: the timed L-layer model, and 1 + 2 layers for the byte extrapolation.
    const dirs = new Map<number, string>();
    const modelDir = (layers: number) => {
      let d = dirs.get(layers);
      if (!d) {
        d = join(tmp, `wan${layers}`);
        writeRandomModelStreaming(d, wanBenchConfig(layers));
        dirs.set(layers, d);
      }
      return d;
    };
    const timedDir = modelDir(L);
    const sizeDirs = [modelDir(1), modelDir(2)];

    // 3. Weight and KV page bytes at 1 and 2 layers, per setting.
    const sizes = new Map<string, { weights30: number; page30: number; weightsL: number; pageL: number }>();
    for (const s of o.settings) {
      const p = new LineProcess(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify({ sizes: [...sizeDirs, timedDir], weights: s.weights, kv: s.kv, threads: o.threads } satisfies WorkerArgs)]);
      const r = (await p.next<{ sizes: { layers: number; weightBytes: number; pageBytes: number }[] }>('sizes')).sizes;
      const at = (k: 'weightBytes' | 'pageBytes', layers: number) => linearInLayers({ layers: 1, value: r[0]![k] }, { layers: 2, value: r[1]![k] }, layers);
      sizes.set(settingName(s), { weights30: at('weightBytes', total), page30: at('pageBytes', total), weightsL: r[2]!.weightBytes, pageL: r[2]!.pageBytes });
    }

    // 4. The timed rollout: every column started, then stepped block by block in turn.
    const columns: Column[] = [];
    const maxBlocks = Math.max(...o.settings.map((s) => blocksFor(s, o)));
    if (peer) {
      const proc = startPeer(timedDir, o.threads);
      live.push(proc);
      columns.push({ name: 'PyTorch fp32', blocks: maxBlocks, proc, ready: (await proc.next<{ ready: Record<string, unknown> }>('peer')).ready, reports: [] });
    }
    for (const s of o.settings) {
      const proc = startWorker({ dir: timedDir, weights: s.weights, kv: s.kv, threads: o.threads });
      live.push(proc);
      columns.push({ name: `worldcast ${settingName(s)}`, setting: s, blocks: blocksFor(s, o), proc, ready: (await proc.next<{ ready: Record<string, unknown> }>(settingName(s))).ready, reports: [] });
    }
    const t0 = performance.now();
    await stepAll(columns, maxBlocks);
    const rolloutSeconds = (performance.now() - t0) / 1e3;

    // 5. The real 30-layer model at int8 weights + int8 KV: RSS after load and over blocks.
    let full: Record<string, unknown> | null = null;
    if (o.rss) {
      const dir = modelDir(total);
      const proc = startWorker({ dir, weights: 'int8', kv: 'int8', threads: o.threads });
      live.push(proc);
      const ready = (await proc.next<{ ready: Record<string, unknown> }>('30-layer int8')).ready;
      const reports: BlockReport[] = [];
      for (let b = 0; b < o.rssBlocks; b++) {
        proc.send('step');
        reports.push((await proc.next<{ block: BlockReport }>('30-layer int8 block')).block);
      }
      const end = (await proc.end<{ end: { kvStats: { pages: { pageBytes: number } }; rssEnd: Record<string, number>; info: { weightBytes: number; workspaceBytes: number } } }>('30-layer int8 end')).end;
      rmSync(dir, { recursive: true, force: true });
      full = { ready, blocks: reports, end };
    }

    // 6. The derived figures that need this run's sizes, then the report.
    const tpf = (SELF_FORCING.latentHeight / 2) * (SELF_FORCING.latentWidth / 2);
    const paramsL = parameterCount(wanBenchConfig(L));
    const params30 = parameterCount(wanBenchConfig(total));
    const crossPerLayerF32 = WAN_1_3B.text_len * WAN_1_3B.dim * 2 * 4;
    const memory: MemoryRow[] = [];
    for (const c of columns) {
      const peak = Number((c.end?.rssEnd as Record<string, number> | undefined)?.VmHWM ?? Math.max(0, ...c.reports.map((r) => r.rssAfter)));
      const framesPeak = Math.min(SELF_FORCING.window, c.blocks * SELF_FORCING.framesPerBlock);
      const x30 = crossPerLayerF32 * total;
      if (c.setting) {
        const sz = sizes.get(settingName(c.setting))!;
        const kv30 = sz.page30 * SELF_FORCING.window;
        const est = peak + (sz.weights30 - sz.weightsL) + (kv30 - sz.pageL * framesPeak) + (x30 - crossPerLayerF32 * L);
        memory.push({ name: c.name, weightBytes30: sz.weights30, kvBytesFullWindow30: kv30, crossBytes30: x30, peakRssTimed: peak, estRss30: est });
      } else {
        const perFrameLayer = tpf * 2 * WAN_1_3B.dim * 4; // f32 K and V of one frame, one layer
        const kv30 = perFrameLayer * total * SELF_FORCING.window;
        const est = peak + (params30 - paramsL) * 4 + (kv30 - perFrameLayer * L * framesPeak) + (x30 - crossPerLayerF32 * L);
        memory.push({ name: c.name, weightBytes30: params30 * 4, kvBytesFullWindow30: kv30, crossBytes30: x30, peakRssTimed: peak, estRss30: est });
      }
    }
    let rss: WanResult['rss'] = null;
    if (full) {
      const ready = full.ready as { rssLoaded: Record<string, number> };
      const end = full.end as { kvStats: { pages: { pageBytes: number } }; rssEnd: Record<string, number> };
      const reps = full.blocks as BlockReport[];
      const page = end.kvStats.pages.pageBytes;
      const heldFrames = Math.min(SELF_FORCING.window, reps.length * SELF_FORCING.framesPerBlock);
      // With no block run, the forward's workspace is the timed int8 process's (it does not
      // depend on the layer count) and the prompt cache is 30 layers of f32 K/V.
      const timedInt8 = columns.find((c) => c.setting?.weights === 'int8' && c.setting.kv === 'int8');
      const workspace = Number((timedInt8?.end?.info as { workspaceBytes?: number } | undefined)?.workspaceBytes ?? 0);
      const peakBlocks = reps.length ? end.rssEnd.VmHWM! : ready.rssLoaded.VmRSS!;
      const fullWindow = peakBlocks + (SELF_FORCING.window - heldFrames) * page + (reps.length ? 0 : workspace + crossPerLayerF32 * total);
      rss = { measured: full, pageBytes: page, heldFrames, peakBlocks, workspaceBytes: workspace, fullWindowBytes: fullWindow, limitBytes: 4e9, met: fullWindow <= 4e9 };
    }
    const result: WanResult = {
      suite: 'wan', options: o, isa, threads: o.threads, model: { ...WAN_1_3B, parameters: params30 }, loop: SELF_FORCING,
      timesteps: (columns.find((c) => c.setting)?.ready.timesteps as number[] | undefined) ?? [],
      keysPerBlock: Array.from({ length: maxBlocks }, (_, b) => windowKeys(b, { ...SELF_FORCING, tokensPerFrame: tpf })),
      measuredLayers: L, check: checked, peer: (columns.find((c) => !c.setting)?.ready.peer as string | undefined) ?? null,
      columns: columns.map((c) => ({ name: c.name, setting: c.setting ?? null, reports: c.reports, ready: c.ready, end: c.end })),
      memory, rss, rolloutSeconds,
    };
    const derived = printWanReport(result);
    return { ...result, ...derived };
  } finally {
    for (const p of live) p.kill();
    rmSync(tmp, { recursive: true, force: true });
  }
}

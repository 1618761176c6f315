/**
 * Video decoder benchmark: the time to decode one block of 3 latent frames into RGB bytes
 * with a streaming TAEHV decoder, at the tiny fixture size (taehv_tiny, 4×8×8 latents) and
 * at the Wan 2.1 size (taew2_1's architecture: 16×60×104 latents → 12 frames of 832×480,
 * upstream widths n_f [256, 128, 64, 64], random weights), against the PyTorch reference
 * (tools/reference/bench_decoder.py, float32, same threads) when python3-torch is installed.
 * Blocks after the first (start-up trim, allocation) are timed; median reported. Each
 * decoder runs at precision f32 and, where the CPU has AVX512_BF16, bf16 (its ratio to f32
 * in the same run); the default world's own decoder (8×16×16 latents → 128×128) is a row too.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { encodeSafetensors, gemmPaths, loadDecoder, type DecoderPrecision, type Tensor } from '../sdk/src/index.js';
import { median, runTorchPeer } from './common.js';

const THREADS = Number(process.env.WORLDCAST_THREADS ?? 2);


/** A decoder directory of taew2_1's architecture with random weights (uniform, fan-in scaled). */
function writeRandomDecoder(dir: string, latent: number, nf: number[]): void {
  let seed = 12345;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 4294967296 - 0.5;
  };
  const tensors: Record<string, Tensor> = {};
  const conv = (name: string, out: number, inp: number, k: number, bias: boolean, gain = 1.4): void => {
    const a = gain * Math.sqrt(12 / (inp * k * k)); // uniform(-a/2, a/2): variance gain^2 / fan_in
    tensors[`${name}.weight`] = { shape: [out, inp, k, k], data: new Float32Array(out * inp * k * k).map(() => a * rnd()) };
    if (bias) tensors[`${name}.bias`] = { shape: [out], data: new Float32Array(out).map(() => 0.02 * rnd()) };
  };
  conv('decoder.1', nf[0]!, latent, 3, true, 1);
  for (let s = 0; s < 3; s++) {
    const base = 3 + 6 * s;
    const n = nf[s]!;
    for (let b = 0; b < 3; b++) {
      conv(`decoder.${base + b}.conv.0`, n, 2 * n, 3, true);
      conv(`decoder.${base + b}.conv.2`, n, n, 3, true);
      conv(`decoder.${base + b}.conv.4`, n, n, 3, true, 0.7);
    }
    conv(`decoder.${base + 4}.conv`, n * (s === 0 ? 1 : 2), n, 1, false, 1);
    conv(`decoder.${base + 5}`, nf[s + 1]!, n, 3, false, 1);
  }
  conv('decoder.22', 3, nf[3]!, 3, true, 0.45);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ type: 'taehv', latent_channels: latent, n_f: nf }));
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
}

interface Row {
  decoder: string;
  precision: DecoderPrecision;
  latent: string;
  frames: string;
  blockMs: number;
  msPerFrame: number;
  stateMB: number;
  workspaceMB: number;
  peer?: string;
  peerBlockMs?: number;
  speedup?: number;
  /** bf16 rows: this precision's block time over f32's. */
  vsF32?: number;
}

async function measure(name: string, dir: string, C: number, H: number, W: number, blocks: number): Promise<Row[]> {
  const precisions: DecoderPrecision[] = ['bf16_dot', 'bf16_amx'].includes(gemmPaths().bf16) ? ['f32', 'bf16'] : ['f32'];
  const rows: Row[] = [];
  for (const precision of precisions) rows.push(await measureAt(name, dir, C, H, W, blocks, precision));
  const p = runTorchPeer('tools/reference/bench_decoder.py', [dir, '--latent', String(C), String(H), String(W), '--blocks', String(blocks), '--threads', String(THREADS)], 3_600_000);
  for (const row of rows) {
    row.peer = p.peer;
    if (p.blockMs !== undefined) {
      row.peerBlockMs = p.blockMs;
      row.speedup = p.blockMs / row.blockMs;
    }
    if (row.precision !== 'f32') row.vsF32 = row.blockMs / rows[0]!.blockMs;
  }
  return rows;
}

async function measureAt(name: string, dir: string, C: number, H: number, W: number, blocks: number, precision: DecoderPrecision): Promise<Row> {
  const dec = await loadDecoder(dir, { threads: THREADS, precision });
  const s = dec.createStream();
  let seed = 7;
  const lat = (): Float32Array =>
    new Float32Array(C * 3 * H * W).map(() => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296) * 4 - 2);
  const first = await s.decode(lat(), 3, H, W); // warm-up: start-up trim, buffers
  const ms: number[] = [];
  let out = first;
  for (let b = 0; b < blocks; b++) {
    out = await s.decode(lat(), 3, H, W);
    ms.push(out.seconds * 1e3);
  }
  const st = await s.stats();
  await s.close();
  dec.close();
  const blockMs = median(ms);
  return {
    decoder: name,
    precision,
    latent: `${C}×3×${H}×${W}`,
    frames: `${out.frames.length}×${out.width}×${out.height}`,
    blockMs,
    msPerFrame: blockMs / out.frames.length,
    stateMB: st.stateBytes / 2 ** 20,
    workspaceMB: st.workspaceBytes / 2 ** 20,
  };
}

export async function runDecoderBench(): Promise<unknown> {
  const work = mkdtempSync(join(tmpdir(), 'wc-bench-decoder-'));
  try {
    const rows: Row[] = [];
    rows.push(...(await measure('taehv_tiny fixture', 'test/fixtures/taehv_tiny', 4, 8, 8, 20)));
    if (existsSync('models/default/decoder/config.json')) rows.push(...(await measure('default world (models/default/decoder)', 'models/default/decoder', 8, 16, 16, 20)));
    const wan = join(work, 'taew2_1-random');
    writeRandomDecoder(wan, 16, [256, 128, 64, 64]);
    rows.push(...(await measure('taew2_1 architecture (random weights)', wan, 16, 60, 104, Number(process.env.WORLDCAST_BENCH_BLOCKS ?? 3))));
    console.log(`\ndecoder: one block of 3 latent frames → RGB bytes, ${THREADS} threads, median`);
    console.log('| decoder | precision | latents | frames out | block ms | ms/frame | ÷ f32 | state MB | workspace MB | PyTorch f32 ms | speedup |');
    console.log('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows)
      console.log(`| ${r.decoder} | ${r.precision} | ${r.latent} | ${r.frames} | ${r.blockMs.toFixed(2)} | ${r.msPerFrame.toFixed(2)} | ${r.vsF32 ? r.vsF32.toFixed(2) : '-'} | ${r.stateMB.toFixed(1)} | ${r.workspaceMB.toFixed(1)} | ${r.peerBlockMs?.toFixed(1) ?? '-'} | ${r.speedup ? r.speedup.toFixed(1) + '×' : r.peer} |`);
    return { threads: THREADS, rows };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * GEMM benchmark (`npm run bench -- gemm`): GFLOP/s of linear() (y = x·Wᵀ + b) with f32,
 * bf16 and int8 weights at the Wan layer shapes, against OpenBLAS cblas_sgemm measured in
 * the same run on the same threads.
 *
 * Shapes: M (tokens) ∈ {192, 768, 4680}; (K, N) = the qkvo (dim×dim) and FFN (dim→ffn,
 * ffn→dim) linears of Wan2.1-1.3B (dim 1536, ffn 8960) and of the mid bench config
 * (dim 512, ffn 2048). Each number is the median of ROUNDS × REPS timed calls: per shape,
 * ROUNDS rounds each run every column (ours f32/bf16/int8, then the peer) for REPS calls
 * after a warm-up, so load changes on a shared machine hit every column alike.
 *
 * Peer: bench/peers/openblas_sgemm.c, compiled here with `cc -O2 … -lopenblas` into a
 * temp dir (libopenblas-dev is installed with apt-get when missing and we are root;
 * otherwise the column is skipped with the reason). OpenBLAS's DYNAMIC_ARCH probe does
 * not recognise some virtualised CPUs and falls back to SSE3 "Prescott" kernels, so unless
 * OPENBLAS_CORETYPE is set we pick its best family for this CPU (SkylakeX on AVX-512,
 * Haswell on AVX2) and report the core it ran.
 *
 * Env: WORLDCAST_THREADS (default 2), WORLDCAST_BENCH_REPS (default 3), WORLDCAST_BENCH_ROUNDS (default 3),
 * WORLDCAST_GEMM_QUICK=1 (M=192 and 768 only), WORLDCAST_BENCH_NO_PEER=1.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { nativeTesting } from '../test/helpers/native_testing.js';
import { median } from './common.js';

const THREADS = Number(process.env.WORLDCAST_THREADS ?? 2);
const REPS = Number(process.env.WORLDCAST_BENCH_REPS ?? 3);
const ROUNDS = Number(process.env.WORLDCAST_BENCH_ROUNDS ?? 3);
const TYPES = ['f32', 'bf16', 'int8'] as const;

/** A column: a weight type on the engine's own path choice, or a forced path. */
interface Variant {
  key: string;
  weights: (typeof TYPES)[number];
  dot?: boolean | 'amx';
}


interface Shape {
  layer: string;
  M: number;
  K: number;
  N: number;
}

function shapes(): Shape[] {
  const layers: [string, number, number][] = [
    ['1.3B qkvo', 1536, 1536],
    ['1.3B ffn.0', 1536, 8960],
    ['1.3B ffn.2', 8960, 1536],
    ['mid qkvo', 512, 512],
    ['mid ffn.0', 512, 2048],
    ['mid ffn.2', 2048, 512],
  ];
  const ms = process.env.WORLDCAST_GEMM_QUICK === '1' ? [192, 768] : [192, 768, 4680];
  const out: Shape[] = [];
  for (const M of ms) for (const [layer, K, N] of layers) out.push({ layer, M, K, N });
  return out;
}

/** Builds the OpenBLAS peer; returns its path or the reason it is unavailable. */
function buildPeer(dir: string, isa: string): { exe?: string; why?: string; env: NodeJS.ProcessEnv } {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: String(THREADS) };
  if (!env.OPENBLAS_CORETYPE) {
    if (isa === 'avx512') env.OPENBLAS_CORETYPE = 'SkylakeX';
    else if (isa === 'avx2') env.OPENBLAS_CORETYPE = 'Haswell';
  }
  if (process.env.WORLDCAST_BENCH_NO_PEER === '1') return { why: 'disabled (WORLDCAST_BENCH_NO_PEER=1)', env };
  const incDirs = [
    '/usr/include/x86_64-linux-gnu/openblas-pthread',
    '/usr/include/x86_64-linux-gnu/openblas-openmp',
    '/usr/include/x86_64-linux-gnu/openblas-serial',
    '/usr/include/openblas',
    '/usr/include/x86_64-linux-gnu',
    '/usr/include',
  ];
  const findInc = () => incDirs.find((d) => existsSync(join(d, 'cblas.h')) && existsSync(join(d, 'openblas_config.h')));
  let inc = findInc();
  if (!inc) {
    const root = typeof process.getuid === 'function' && process.getuid() === 0;
    if (!root || !existsSync('/usr/bin/apt-get'))
      return { why: 'OpenBLAS headers missing (install libopenblas-dev; not root or no apt-get, so not installing)', env };
    console.log('installing libopenblas-dev for the OpenBLAS peer (apt-get)…');
    const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', ['install', '-y', 'libopenblas-dev'], { encoding: 'utf8', env: aptEnv });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update'], { encoding: 'utf8', env: aptEnv });
      r = spawnSync('apt-get', ['install', '-y', 'libopenblas-dev'], { encoding: 'utf8', env: aptEnv });
    }
    inc = findInc();
    if (!inc) return { why: `apt-get install libopenblas-dev failed: ${(r.stderr || '').trim().split('\n').pop()}`, env };
  }
  const exe = join(dir, 'openblas_sgemm');
  const cc = spawnSync('cc', ['-O2', '-o', exe, 'bench/peers/openblas_sgemm.c', `-I${inc}`, '-lopenblas'], { encoding: 'utf8' });
  if (cc.status !== 0) return { why: `cc failed: ${(cc.stderr || cc.error?.message || '').trim().split('\n').pop()}`, env };
  return { exe, env };
}

interface PeerResult {
  times: number[];
}

function runPeer(exe: string, env: NodeJS.ProcessEnv, s: Shape): { res?: PeerResult; name?: string; core?: string; why?: string } {
  const r = spawnSync(exe, [String(REPS), `${s.M},${s.K},${s.N}`], { encoding: 'utf8', env, timeout: 600_000 });
  if (r.status !== 0) return { why: (r.stderr || r.error?.message || 'failed').trim() };
  const j = JSON.parse(r.stdout.trim()) as { peer: string; core: string; shapes: PeerResult[] };
  return { res: j.shapes[0], name: `OpenBLAS ${j.peer.trim().replace(/^OpenBLAS\s*/, '')}`, core: j.core };
}

interface Row extends Shape {
  /** GFLOP/s per variant key (f32, bf16, int8 as loadModel would run them; bf16_dot forced). */
  gflops: Record<string, number>;
  paths: Record<string, string>;
  openblas?: number;
  ratio?: Record<string, number>;
}

function relErrs(got: Float32Array, ref: Float32Array): { relMax: number; relRms: number } {
  let num = 0, den = 0, se = 0, sr = 0;
  for (let i = 0; i < got.length; i++) {
    const d = got[i]! - ref[i]!;
    num = Math.max(num, Math.abs(d));
    den = Math.max(den, Math.abs(ref[i]!));
    se += d * d;
    sr += ref[i]! * ref[i]!;
  }
  return { relMax: num / den, relRms: Math.sqrt(se / sr) };
}

export async function runGemmBench(): Promise<unknown> {
  const T = nativeTesting().testing;
  const cpu = T.cpu();
  const tmp = mkdtempSync(join(tmpdir(), 'wc-gemm-'));
  try {
    const peer = buildPeer(tmp, cpu.active);
    let peerName = '', peerCore = '', peerWhy = peer.why;
    const rows: Row[] = [];
    const flops = (s: Shape) => 2 * s.M * s.K * s.N;
    // The AVX512_BF16 path too when the engine's calibration chose to widen bf16 instead.
    const variants: Variant[] = TYPES.map((t) => ({ key: t, weights: t }));
    if (/avx512_bf16/.test(cpu.features) && T.gemmPath(cpu.active, 'bf16') !== 'bf16_dot' && T.gemmPath(cpu.active, 'bf16', true) === 'bf16_dot')
      variants.push({ key: 'bf16_dot', weights: 'bf16', dot: true });
    // Where AMX runs the engine's bf16/int8 (the Auto choice), the AVX512_VNNI path too, for the ratio.
    if (T.gemmPath(cpu.active, 'int8') === 'int8_amx' && T.gemmPath(cpu.active, 'int8', true) === 'int8_dot')
      variants.push({ key: 'int8_dot', weights: 'int8', dot: true });
    const keys = variants.map((v) => v.key);
    for (const s of shapes()) {
      const row: Row = { ...s, gflops: {}, paths: {} };
      const times: Record<string, number[]> = {};
      const peerTimes: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        for (const v of variants) {
          const r = T.benchGemm(s.M, s.K, s.N, v.weights, THREADS, REPS, v.dot);
          (times[v.key] ??= []).push(...r.seconds);
          row.paths[v.key] = r.path;
        }
        if (peer.exe && !peerWhy) {
          const p = runPeer(peer.exe, peer.env, s);
          if (p.res) {
            peerTimes.push(...p.res.times);
            peerName = p.name!;
            peerCore = p.core!;
          } else {
            peerWhy = `run failed: ${p.why}`;
          }
        }
      }
      for (const k of keys) row.gflops[k] = (flops(s) / median(times[k]!)) * 1e-9;
      if (peerTimes.length && !peerWhy) {
        row.openblas = (flops(s) / median(peerTimes)) * 1e-9;
        row.ratio = Object.fromEntries(keys.map((t) => [t, row.gflops[t]! / row.openblas!]));
      }
      rows.push(row);
      const g = keys.map((k) => `${k} ${row.gflops[k]!.toFixed(1)}`).join(', ');
      console.log(`  M=${s.M} K=${s.K} N=${s.N}: ${g}, OpenBLAS ${row.openblas?.toFixed(1) ?? 'n/a'} GFLOP/s`);
    }

    // Numerics at a model shape: error of bf16 / int8 weights (as this CPU runs them)
    // against f32 weights, relative to the output's max (relMax) and RMS (relRms).
    const M = 192, K = 1536, N = 1536;
    const rnd = (n: number, seed: number) => {
      let s = seed >>> 0;
      return new Float32Array(n).map(() => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296) * 2 - 1);
    };
    const x = rnd(M * K, 1), W = rnd(N * K, 2).map((v) => v * 0.05);
    const f32 = T.gemm(x, M, K, W, N, null, cpu.active, 0, false);
    const numerics = (['bf16', 'int8'] as const).flatMap((t) =>
      ([true, false, 'amx'] as const).map((dot) => ({
        weights: t,
        path: T.gemmPath(cpu.active, t, dot),
        ...relErrs(T.gemm(x, M, K, W, N, null, cpu.active, 0, false, { weights: t, dot }), f32),
      })),
    ).filter((r, i, a) => a.findIndex((o) => o.path === r.path) === i);

    const paths = rows[0]!.paths;
    console.log(`\nlinear() GFLOP/s, ${THREADS} threads, ${cpu.active}, median of ${ROUNDS}×${REPS} calls (interleaved rounds); peer: ${peerWhy ? `unavailable: ${peerWhy}` : `${peerName} sgemm, core ${peerCore}`}`);
    const label = (k: string) => (k === 'bf16_dot' || k === 'int8_dot' ? `${k.slice(0, 4)} (forced ${k})` : `${k} (${paths[k]})`);
    console.log(`| M | K | N | layer | ${keys.map(label).join(' | ')} | OpenBLAS sgemm | ${keys.map((k) => `${k} / OpenBLAS`).join(' | ')} |`);
    console.log(`|---|---|---|---|${keys.map(() => '---|').join('')}---|${keys.map(() => '---|').join('')}`);
    for (const r of rows) {
      const q = (t: string) => (r.ratio ? r.ratio[t]!.toFixed(2) + '×' : 'n/a');
      console.log(`| ${r.M} | ${r.K} | ${r.N} | ${r.layer} | ${keys.map((k) => r.gflops[k]!.toFixed(1)).join(' | ')} | ${r.openblas?.toFixed(1) ?? 'n/a'} | ${keys.map(q).join(' | ')} |`);
    }
    const withPeer = rows.filter((r) => r.ratio);
    const geo = (t: string) => Math.exp(withPeer.reduce((a, r) => a + Math.log(r.ratio![t]!), 0) / withPeer.length);
    if (withPeer.length) console.log(`geometric mean vs OpenBLAS: ${keys.map((k) => `${k} ${geo(k).toFixed(2)}×`).join(', ')}`);
    console.log(`\nnumerics at M=${M} K=${K} N=${N} (error against f32 weights, relative to max|y| / RMS of y):`);
    for (const n of numerics) console.log(`  ${n.path}: relMax ${n.relMax.toExponential(2)}, relRms ${n.relRms.toExponential(2)}`);
    return {
      suite: 'gemm',
      threads: THREADS,
      reps: REPS,
      rounds: ROUNDS,
      isa: cpu.active,
      cpu: cpu.features,
      paths,
      peer: peerWhy ? { unavailable: peerWhy } : { name: peerName, core: peerCore, threads: THREADS },
      rows,
      geomeanVsOpenblas: withPeer.length ? Object.fromEntries(keys.map((t) => [t, geo(t)])) : undefined,
      numerics,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Helpers shared by the benchmark suites. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

import { nativeTesting } from '../test/helpers/native_testing.js';

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Debian's python3 with python3-torch (not a pyenv python3 on PATH). */
export const TORCH_PYTHON = '/usr/bin/python3';

/** Whether the PyTorch peers can run (and WORLDCAST_BENCH_NO_PEER is not set). */
export function torchAvailable(): boolean {
  return existsSync(TORCH_PYTHON) && process.env.WORLDCAST_BENCH_NO_PEER !== '1';
}

/**
 * The environment of a PyTorch peer. Debian's OpenBLAS misdetects some VMs' CPUs (e.g. as
 * Prescott), so the core is named unless OPENBLAS_CORETYPE is set.
 */
export function torchEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const coretype = nativeTesting().testing.cpu().best === 'avx512' ? 'SkylakeX' : 'Haswell';
  return { ...process.env, OPENBLAS_CORETYPE: process.env.OPENBLAS_CORETYPE ?? coretype, ...extra };
}

/** A peer's result: its name and median block milliseconds, or why it could not run. */
export type PeerResult = { peer: string; blockMs: number } | { peer: string; blockMs?: undefined };

/**
 * Run a PyTorch peer script from tools/reference (Debian's python3-torch) that prints JSON
 * {peer, median_block_seconds} as its last line, in {@link torchEnv}.
 */
export function runTorchPeer(script: string, args: string[], timeoutMs: number): PeerResult {
  if (!torchAvailable()) return { peer: 'unavailable (install python3-torch)' };
  const r = spawnSync(TORCH_PYTHON, [script, ...args], { encoding: 'utf8', timeout: timeoutMs, env: torchEnv() });
  if (r.status !== 0) return { peer: `unavailable (${(r.stderr || r.error?.message || '').trim().split('\n').pop()})` };
  const p = JSON.parse(r.stdout.trim().split('\n').pop()!) as { peer: string; median_block_seconds: number };
  return { peer: p.peer, blockMs: p.median_block_seconds * 1e3 };
}

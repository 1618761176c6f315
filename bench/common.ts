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

/** A peer's result: its name and median block milliseconds, or why it could not run. */
export type PeerResult = { peer: string; blockMs: number } | { peer: string; blockMs?: undefined };

/**
 * Run a PyTorch peer script from tools/reference (Debian's python3-torch) that prints JSON
 * {peer, median_block_seconds} as its last line. Debian's OpenBLAS misdetects some VMs'
 * CPUs (e.g. as Prescott), so the core is named unless OPENBLAS_CORETYPE is set.
 */
export function runTorchPeer(script: string, args: string[], timeoutMs: number): PeerResult {
  const py = '/usr/bin/python3';
  if (!existsSync(py) || process.env.WORLDCAST_BENCH_NO_PEER === '1') return { peer: 'unavailable (install python3-torch)' };
  const coretype = nativeTesting().testing.cpu().best === 'avx512' ? 'SkylakeX' : 'Haswell';
  const r = spawnSync(py, [script, ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, OPENBLAS_CORETYPE: process.env.OPENBLAS_CORETYPE ?? coretype },
  });
  if (r.status !== 0) return { peer: `unavailable (${(r.stderr || r.error?.message || '').trim().split('\n').pop()})` };
  const p = JSON.parse(r.stdout.trim().split('\n').pop()!) as { peer: string; median_block_seconds: number };
  return { peer: p.peer, blockMs: p.median_block_seconds * 1e3 };
}

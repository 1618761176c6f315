/**
 * Scores one generated video: split into N equal chunks (the remainder trimmed, as
 * LV-Bench/vde.py does), each chunk scored by each scorer (m_1..m_N), then VDE with the linear
 * and the log weighting (tools/eval/metrics.ts). A scorer's chunk values are cached in the
 * video's scores.json (store.ts) under the scorer's id, so a rerun scores only what is new.
 * A VDE that cannot be computed (m_1 = 0, a scorer that fails) is reported as an error for that
 * scorer and video, never as a number.
 */
import { splitChunks, vde } from '../eval/metrics.js';
import type { Scorer } from './scorers/index.js';
import { readScores, writeScores, type ScoreRecord } from './store.js';

export interface ScorerResult {
  scorer: string;
  /** m_1..m_N (empty when the scorer failed). */
  chunks: number[];
  /** VDE with w_i = N − i + 1, or null with `error`. */
  vde: number | null;
  /** VDE with w_i = ln(N − i + 1), or null with `error`. */
  vdeLog: number | null;
  error: string | null;
  /** Seconds the scoring took (0 when cached). */
  seconds: number;
  cached: boolean;
}

export interface ScoreOptions {
  /** Number of chunks N (LV-Bench: 10). */
  chunks: number;
  /** Where to cache (the video's folder) and the key of its frames; no caching without. */
  cache?: { dir: string; key: string };
}

/** VDE of chunk values in both weightings, or the error that prevents it. */
export function vdeBoth(chunks: readonly number[]): { vde: number | null; vdeLog: number | null; error: string | null } {
  try {
    return { vde: vde(chunks, 'linear'), vdeLog: vde(chunks, 'log'), error: null };
  } catch (e) {
    return { vde: null, vdeLog: null, error: (e as Error).message };
  }
}

export async function scoreVideo(frames: readonly Uint8Array[], width: number, height: number, scorers: readonly Scorer[], opts: ScoreOptions): Promise<ScorerResult[]> {
  const chunks = splitChunks(frames, opts.chunks);
  const cache = opts.cache ? readScores(opts.cache.dir) : {};
  const key = opts.cache ? `${opts.cache.key}/chunks${opts.chunks}` : '';
  const out: ScorerResult[] = [];
  for (const s of scorers) {
    const hit = cache[s.id];
    if (opts.cache && hit && hit.key === key && hit.chunks.length === opts.chunks) {
      out.push({ scorer: s.name, chunks: hit.chunks, ...vdeBoth(hit.chunks), seconds: 0, cached: true });
      continue;
    }
    const t0 = performance.now();
    let values: number[];
    try {
      values = [];
      for (const c of chunks) values.push(await s.scoreChunk({ frames: c, width, height }));
    } catch (e) {
      out.push({ scorer: s.name, chunks: [], vde: null, vdeLog: null, error: `${s.name}: ${(e as Error).message}`, seconds: (performance.now() - t0) / 1e3, cached: false });
      continue;
    }
    const seconds = (performance.now() - t0) / 1e3;
    out.push({ scorer: s.name, chunks: values, ...vdeBoth(values), seconds, cached: false });
    if (opts.cache) {
      const rec: ScoreRecord = { scorer: s.id, key, chunks: values, seconds };
      cache[s.id] = rec;
      writeScores(opts.cache.dir, cache);
    }
  }
  return out;
}

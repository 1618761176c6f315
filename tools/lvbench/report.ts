/**
 * The LV-Bench report's data (report.json) and its text summary. The HTML page
 * (report_html.ts) is drawn from the same object.
 */
import type { ScorerResult } from './evaluate.js';
import type { RunConfig } from './runs.js';
import type { VideoRecord } from './store.js';

export interface ReportScorer {
  name: string;
  id: string;
  description: string;
  upstream: string;
}

export interface ReportRun extends RunConfig {
  description: string;
  /** Wall seconds of the generations made in this invocation (resumed videos count their recorded time). */
  generationSeconds: number;
  /** Frames / seconds inside step(), over the run's videos. */
  framesPerSecond: number;
}

export interface ReportVideoRun {
  generation: VideoRecord;
  scores: ScorerResult[];
}

export interface ReportVideo {
  id: string;
  split: string | null;
  seconds: number;
  opening: string | null;
  captions: { start: number; end: number; text: string }[];
  /** Whether the actions came from the manifest or the scripted walk. */
  actions: 'manifest' | 'scripted';
  /** Frame strip PNG (relative to the report), one row per run, the middle frame of each chunk. */
  strip: string | null;
  /** The frame indices shown in the strip. */
  stripFrames: number[];
  runs: Record<string, ReportVideoRun>;
}

/** Mean VDE of one scorer for one run over the videos where it could be computed. */
export interface SummaryCell {
  vde: number | null;
  vdeLog: number | null;
  /** Mean of m_i / m_1 per chunk over those videos (the normalised drift curve). */
  curve: (number | null)[];
  videos: number;
  errors: string[];
}

export interface Report {
  version: 1;
  createdAt: string;
  manifest: { path: string; name: string; videos: number };
  model: { dir: string; weightsStamp: string };
  settings: { chunks: number; fps: number; seconds: number | null; width: number; height: number; threads: number | null };
  scorers: ReportScorer[];
  runs: ReportRun[];
  summary: Record<string, Record<string, SummaryCell>>;
  videos: ReportVideo[];
  wallSeconds: number;
  notes: string[];
}

const mean = (xs: readonly number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** The per-run, per-scorer summary over the videos. */
export function summarise(videos: readonly ReportVideo[], runs: readonly string[], scorers: readonly string[], chunks: number): Record<string, Record<string, SummaryCell>> {
  const out: Record<string, Record<string, SummaryCell>> = {};
  for (const r of runs) {
    out[r] = {};
    for (const s of scorers) {
      const res = videos.map((v) => v.runs[r]?.scores.find((x) => x.scorer === s)).filter((x): x is ScorerResult => x !== undefined);
      const ok = res.filter((x) => x.vde !== null);
      const curve = Array.from({ length: chunks }, (_, i) => mean(ok.filter((x) => x.chunks[0] !== 0).map((x) => x.chunks[i]! / x.chunks[0]!)));
      out[r]![s] = {
        vde: mean(ok.map((x) => x.vde!)),
        vdeLog: mean(ok.map((x) => x.vdeLog!)),
        curve,
        videos: ok.length,
        errors: res.filter((x) => x.error !== null).map((x) => x.error!),
      };
    }
  }
  return out;
}

const fmt = (v: number | null | undefined, d = 3): string => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(d));

/** The summary as a text table (stdout). */
export function summaryTable(rep: Report): string {
  const names = rep.scorers.map((s) => s.name);
  const lines: string[] = [];
  lines.push(`LV-Bench VDE (N = ${rep.settings.chunks} chunks, linear weights; lower = less drift), mean over ${rep.videos.length} video(s) of ${rep.manifest.name}`);
  lines.push(['run'.padEnd(14), ...names.map((n) => n.padStart(12)), 'frames/s'.padStart(10), 'gen s'.padStart(8)].join(' '));
  for (const r of rep.runs) {
    const row = rep.summary[r.name]!;
    lines.push([r.name.padEnd(14), ...names.map((n) => fmt(row[n]?.vde).padStart(12)), fmt(r.framesPerSecond, 1).padStart(10), fmt(r.generationSeconds, 1).padStart(8)].join(' '));
  }
  lines.push('log weighting (w_i = ln(N − i + 1)):');
  for (const r of rep.runs) {
    const row = rep.summary[r.name]!;
    lines.push([r.name.padEnd(14), ...names.map((n) => fmt(row[n]?.vdeLog).padStart(12))].join(' '));
  }
  const errs = rep.runs.flatMap((r) => names.flatMap((n) => rep.summary[r.name]![n]!.errors.map((e) => `${r.name}: ${e}`)));
  if (errs.length) lines.push('errors:', ...errs.map((e) => `  ${e}`));
  return lines.join('\n');
}

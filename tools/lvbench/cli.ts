/**
 * LV-Bench-style long-video evaluation of a world model through the SDK.
 *
 *   npm run lvbench -- --manifest tools/lvbench/sample/manifest.json --runs f32,int8
 *       [--model models/default] [--out runs/lvbench/<manifest name>] [--runs-file runs.json]
 *       [--seconds S] [--fps F] [--chunks 10] [--scorers clarity,motion,subject,background]
 *       [--scorers-file scorers.json] [--videos id,id] [--split eval|train] [--threads N] [--force]
 *       [--decoder DIR] [--level FILE]
 *
 * The decoder is the model's own by the SDK's one rule (loadModel → modelDecoderDir);
 * `--decoder DIR` overrides it. A model that takes the pose or the geometry map walks a
 * character through the level (`--level FILE`, default the default world's yard) from the
 * spawn its opening names, as the game server does (driver.ts).
 *
 * For every run (runs.ts) and every manifest video (manifest.ts) it generates the video through
 * the SDK with the captions as continuous prompts (driver.ts), saving frames as they come
 * (store.ts: a rerun skips finished videos and cached scores), scores each of N chunks with each
 * scorer (scorers/, evaluate.ts), computes VDE (tools/eval/metrics.ts) and writes
 * `<out>/report/report.json` and `<out>/report/index.html` (+ frame strips), and a summary on stdout.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { loadModel, WorldcastError, type Model } from '../../sdk/src/index.js';
import { defaultLevel, loadLevelFile } from '../../world/src/levels/index.js';
import { writeFrameGrid } from '../eval/strip.js';
import { SCRIPT_MAX_TURN, SCRIPT_SEGMENT_SECONDS } from './actions.js';
import { checkRun, checkVideo, generateVideo, videoFps } from './driver.js';
import { scoreVideo } from './evaluate.js';
import { ManifestError, readManifest, type VideoSpec } from './manifest.js';
import { Progress, type ProgressStream } from './progress.js';
import { renderHtml } from './report_html.js';
import { summarise, summaryTable, type Report, type ReportRun, type ReportVideo } from './report.js';
import { describeRun, parseRuns, PRESETS, readRunsFile, type RunConfig } from './runs.js';
import { createScorers, DEFAULT_SCORERS, readScorersFile } from './scorers/index.js';
import type { OnnxScorerSpec } from './scorers/onnx.js';
import { FrameWriter, keyOf, readDone, readFrames, videoDir, type VideoRecord } from './store.js';

const USAGE = `usage: npm run lvbench -- --manifest FILE [--runs a,b] [--runs-file FILE] [--model DIR] [--out DIR]
       [--seconds S] [--fps F] [--chunks N] [--scorers a,b] [--scorers-file FILE] [--videos id,…] [--split eval|train]
       [--threads N] [--force] [--decoder DIR] [--level FILE]
--decoder DIR: the video decoder (default: the model's own, config.json "decoder" or <model>/decoder)
--level FILE: for a model that takes the pose / geometry map, the level its character walks (default: the default world's yard)
run presets: ${Object.entries(PRESETS)
  .map(([k, v]) => `${k} (${v.description})`)
  .join('; ')}
a run spec can also be name=token+token, tokens: presets, kv:f32|bf16|int8, window:W, sink:S, fold, nofold, weights:f32|bf16|int8`;

export interface Settings {
  manifest: string;
  runs: RunConfig[];
  model: string;
  out: string;
  seconds: number | null;
  fps: number | null;
  chunks: number;
  scorers: string[];
  onnx: OnnxScorerSpec[];
  videos: string[] | null;
  split: 'train' | 'eval' | null;
  threads: number | null;
  force: boolean;
  /** Decoder directory overriding the model's own (null: the model's own). */
  decoder: string | null;
  /** Level JSON file for world models (null: the default world's yard). */
  level: string | null;
}

export function parseSettings(argv: string[]): Settings | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      manifest: { type: 'string' },
      runs: { type: 'string', default: 'f32,int8' },
      'runs-file': { type: 'string' },
      model: { type: 'string', default: 'models/default' },
      out: { type: 'string' },
      seconds: { type: 'string' },
      fps: { type: 'string' },
      chunks: { type: 'string', default: '10' },
      scorers: { type: 'string', default: DEFAULT_SCORERS.join(',') },
      'scorers-file': { type: 'string' },
      videos: { type: 'string' },
      split: { type: 'string' },
      threads: { type: 'string' },
      force: { type: 'boolean', default: false },
      decoder: { type: 'string' },
      level: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return null;
  if (!values.manifest) throw new Error(`--manifest is required\n${USAGE}`);
  const pos = (v: string | undefined, name: string, integer: boolean): number | null => {
    if (v === undefined) return null;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new Error(`--${name} must be a positive ${integer ? 'whole ' : ''}number (got ${v})`);
    return n;
  };
  const split = values.split ?? null;
  if (split !== null && split !== 'train' && split !== 'eval') throw new Error(`--split must be train or eval (got ${split})`);
  const named = values['runs-file'] ? readRunsFile(values['runs-file']) : new Map();
  const list = (v: string | undefined): string[] | null => (v === undefined ? null : v.split(',').map((x) => x.trim()).filter((x) => x !== ''));
  const name = values.manifest.replace(/^.*\//, '').replace(/\.(jsonl?|json)$/, '');
  const manifestDir = resolve(values.manifest, '..').split('/').pop() ?? '';
  return {
    manifest: values.manifest,
    runs: parseRuns(values.runs!, named),
    model: values.model!,
    out: values.out ?? join('runs', 'lvbench', name === 'manifest' && manifestDir ? manifestDir : name),
    seconds: pos(values.seconds, 'seconds', false),
    fps: pos(values.fps, 'fps', false),
    chunks: pos(values.chunks, 'chunks', true)!,
    scorers: list(values.scorers)!,
    onnx: values['scorers-file'] ? readScorersFile(values['scorers-file']) : [],
    videos: list(values.videos),
    split,
    threads: pos(values.threads, 'threads', true),
    force: values.force!,
    decoder: decoderArg(values.decoder),
    level: values.level ?? null,
  };
}

function decoderArg(v: string | undefined): string | null {
  if (v === undefined) return null;
  if (v === 'none' || v.trim() === '') throw new Error('--decoder must be a decoder directory: LV-Bench scores decoded frames');
  return v;
}

export interface MainIo {
  stdout?: ProgressStream;
  stderr?: ProgressStream;
}

function modelStamp(dir: string): string {
  try {
    const st = statSync(join(dir, 'model.safetensors'));
    return `${st.size}-${Math.round(st.mtimeMs)}`;
  } catch {
    return 'unknown';
  }
}

/** Runs the evaluation; returns the report (null for --help). */
export async function main(argv = process.argv.slice(2), io: MainIo = {}): Promise<Report | null> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const log = (m: string): void => void stderr.write(`lvbench: ${m}\n`);
  const wall0 = performance.now();
  const st = parseSettings(argv);
  if (!st) {
    stdout.write(USAGE + '\n');
    return null;
  }
  const manifest = readManifest(st.manifest);
  let videos = manifest.videos;
  if (st.split) videos = videos.filter((v) => v.split === st.split);
  if (st.videos) {
    const missing = st.videos.filter((id) => !manifest.videos.some((v) => v.id === id));
    if (missing.length) throw new Error(`--videos: ${missing.join(', ')} not in ${st.manifest}`);
    videos = videos.filter((v) => st.videos!.includes(v.id));
  }
  if (videos.length === 0) throw new Error(`no videos of ${st.manifest} left to evaluate (--split / --videos)`);
  const scorers = createScorers(st.scorers, st.onnx);
  const stamp = modelStamp(st.model);
  const level = st.level ? loadLevelFile(st.level) : defaultLevel;
  const lengthOf = (v: VideoSpec): number => st.seconds ?? v.duration;

  // Generation, grouped by weight type (one model load each).
  const byWeights = new Map<string, RunConfig[]>();
  for (const r of st.runs) byWeights.set(r.weights, [...(byWeights.get(r.weights) ?? []), r]);
  const records = new Map<string, VideoRecord>(); // `${run}/${video}`
  const genSeconds = new Map<string, number>();
  let fps = 0;
  let progress: Progress | null = null;
  const keyFor = (r: RunConfig, v: VideoSpec): string =>
    keyOf({ v: 2, model: resolve(st.model), decoder: st.decoder && resolve(st.decoder), level: st.level && resolve(st.level), stamp, kv: r.kvDtype, window: r.localAttnSize, sink: r.sinkSize, fold: r.foldCommit, weights: r.weights, video: v, seconds: lengthOf(v), fps });
  for (const [weights, runs] of byWeights) {
    let model: Model | null = null;
    try {
      model = await loadModel(st.model, { ...(st.threads ? { threads: st.threads } : {}), ...(st.decoder ? { decoder: st.decoder } : {}), weights: weights as RunConfig['weights'] });
      const f = st.fps ?? videoFps(model);
      if (!f) throw new Error(`${st.model}: config.json has no latent_fps; pass --fps`);
      if (fps && f !== fps) throw new Error(`frames per second differ between loads (${fps} vs ${f})`);
      fps = f;
      for (const v of videos) checkVideo(model, v, level);
      for (const r of runs) await checkRun(model, r, videos[0]!);
      if (!progress) {
        let total = 0;
        for (const r of st.runs) for (const v of videos) if (st.force || !readDone(videoDir(st.out, r.name, v.id), keyFor(r, v))) total += Math.round(lengthOf(v) * fps);
        progress = new Progress(total, stderr);
        log(`${videos.length} video(s) × ${st.runs.length} run(s) of ${st.model} at ${fps} frames/s into ${st.out}; ${total} frames to generate`);
      }
      for (const r of runs) {
        for (const [vi, v] of videos.entries()) {
          const dir = videoDir(st.out, r.name, v.id);
          const key = keyFor(r, v);
          const done = st.force ? null : readDone(dir, key);
          if (done) {
            records.set(`${r.name}/${v.id}`, done);
            genSeconds.set(r.name, (genSeconds.get(r.name) ?? 0) + done.wallSeconds);
            log(`run ${r.name}, video ${v.id}: done earlier (${done.frames} frames), skipped`);
            continue;
          }
          const writer = new FrameWriter(dir);
          progress.start(`${r.name} ${v.id} (${vi + 1}/${videos.length})`);
          let last = 0;
          try {
            const stats = await generateVideo(model, v, r, {
              seconds: lengthOf(v),
              fps,
              level,
              onFrame: (rgb) => writer.write(rgb),
              onBlock: (n, of) => {
                progress!.update(n - last, n, of, fps);
                last = n;
              },
            });
            const rec: VideoRecord = { key, run: r.name, video: v.id, fps, seconds: lengthOf(v), ...stats, createdAt: new Date().toISOString() };
            writer.finish(rec);
            records.set(`${r.name}/${v.id}`, rec);
            genSeconds.set(r.name, (genSeconds.get(r.name) ?? 0) + rec.wallSeconds);
          } catch (e) {
            writer.abort();
            throw e;
          } finally {
            progress.end();
          }
        }
      }
    } finally {
      model?.close();
    }
  }

  // Scoring and strips.
  const reportDir = join(st.out, 'report');
  mkdirSync(join(reportDir, 'strips'), { recursive: true });
  const reportVideos: ReportVideo[] = [];
  let width = 0;
  let height = 0;
  for (const v of videos) {
    const rv: ReportVideo = {
      id: v.id,
      split: v.split,
      seconds: lengthOf(v),
      opening: v.opening,
      captions: v.captions,
      actions: v.actions ? 'manifest' : 'scripted',
      strip: null,
      stripFrames: [],
      runs: {},
    };
    const rows: Uint8Array[][] = [];
    for (const r of st.runs) {
      const rec = records.get(`${r.name}/${v.id}`)!;
      width = rec.width;
      height = rec.height;
      const dir = videoDir(st.out, r.name, v.id);
      const frames = readFrames(dir, rec);
      const t0 = performance.now();
      const scores = await scoreVideo(frames, rec.width, rec.height, scorers, { chunks: st.chunks, cache: { dir, key: rec.key } });
      const fresh = scores.filter((s) => !s.cached).length;
      log(
        `scored run ${r.name}, video ${v.id}: ${scores.map((s) => `${s.scorer} ${s.vde === null ? 'error' : s.vde.toFixed(3)}`).join(', ')}` +
          (fresh ? ` (${((performance.now() - t0) / 1e3).toFixed(1)} s)` : ' (cached)'),
      );
      rv.runs[r.name] = { generation: rec, scores };
      const per = Math.floor(frames.length / st.chunks);
      rv.stripFrames = Array.from({ length: st.chunks }, (_, i) => i * per + Math.floor(per / 2));
      rows.push(rv.stripFrames.map((k) => Uint8Array.from(frames[k]!)));
    }
    const strip = join('strips', `${v.id}.png`);
    await writeFrameGrid(join(reportDir, strip), rows, width, height);
    rv.strip = strip;
    reportVideos.push(rv);
  }
  for (const s of scorers) await s.close?.();

  const reportRuns: ReportRun[] = st.runs.map((r) => {
    const recs = videos.map((v) => records.get(`${r.name}/${v.id}`)!);
    const frames = recs.reduce((a, x) => a + x.frames, 0);
    const stepS = recs.reduce((a, x) => a + x.stepSeconds, 0);
    return { ...r, description: describeRun(r), generationSeconds: genSeconds.get(r.name) ?? 0, framesPerSecond: frames / Math.max(stepS, 1e-9) };
  });
  const builtins = scorers.filter((s) => !s.id.startsWith('onnx/')).map((s) => s.name);
  const onnxUsed = scorers.filter((s) => s.id.startsWith('onnx/')).map((s) => s.name);
  const report: Report = {
    version: 1,
    createdAt: new Date().toISOString(),
    manifest: { path: resolve(st.manifest), name: manifest.name, videos: videos.length },
    model: { dir: resolve(st.model), weightsStamp: stamp },
    settings: { chunks: st.chunks, fps, seconds: st.seconds, width, height, threads: st.threads },
    scorers: scorers.map((s) => ({ name: s.name, id: s.id, description: s.description, upstream: s.upstream })),
    runs: reportRuns,
    summary: summarise(reportVideos, st.runs.map((r) => r.name), scorers.map((s) => s.name), st.chunks),
    videos: reportVideos,
    wallSeconds: (performance.now() - wall0) / 1e3,
    notes: [
      builtins.length
        ? `Built-in classical scorers (no learned weights): ${builtins.join(', ')}. They stand in for LV-Bench's MUSIQ / AMT / DINO / CLIP metrics, so their VDE figures are comparable between runs here, not with published LV-Bench numbers.`
        : 'No built-in scorers.',
      onnxUsed.length ? `ONNX scorers (user-supplied models): ${onnxUsed.join(', ')}.` : 'No ONNX scorers (aesthetic and the published networks need a --scorers-file with user-supplied ONNX models).',
      `Videos without actions in the manifest were driven by the scripted walk: 'w' held, mouse dx constant over segments of ${SCRIPT_SEGMENT_SECONDS[0]}–${SCRIPT_SEGMENT_SECONDS[1]} s drawn uniformly from ±${SCRIPT_MAX_TURN} (seeded by the video's seed; the same for every run).`,
      'The caption in force at the first frame of a block is the session prompt for that block (setPrompt at the block boundary when it changes).',
      'VDE follows Inferix LV-Bench/vde.py; m_1 = 0 is reported as an error for that scorer and video instead of +inf.',
    ],
  };
  writeFileSync(join(reportDir, 'report.json'), JSON.stringify(report, null, 1) + '\n');
  writeFileSync(join(reportDir, 'index.html'), renderHtml(report));
  stdout.write(summaryTable(report) + '\n');
  stdout.write(`report: ${relative(process.cwd(), join(reportDir, 'index.html'))} (+ report.json); wall ${report.wallSeconds.toFixed(0)} s\n`);
  return report;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    const err = e as Error;
    // The tool's own errors and the SDK's typed ones are messages for the user; anything else gets its stack.
    const plain = err?.name === 'Error' || err instanceof ManifestError || err instanceof WorldcastError;
    process.stderr.write(`lvbench: ${plain ? err.message : (err?.stack ?? String(e))}\n`);
    process.exit(1);
  });
}

/**
 * Evaluation of a default-world model against the ground-truth renderer.
 *
 *   npm run eval -- [--model models/default] [--out <model>/eval] [--episodes 8] [--seconds 30]
 *                   [--drift-seconds 120] [--switches 12] [--seed 90210] [--threads N]
 *                   [--spawns 0,1] [--no-pose] [--no-geometry] [--quick]
 *
 * Held-out episodes come from the dataset generator (tools/dataset/generate.ts) at another
 * seed than the training data (seed 1). Each rollout starts from the model's opening
 * `<prompt>/<spawn>` (model frames 0..F−1, the character standing at the spawn = truth frame 0)
 * and then steps block b = 1, 2, … with the truth actions of truth frames (b−1)F+1 .. bF, whose
 * decoded frames are compared with those truth frames. When a truth frame of block b has
 * another prompt than the session's, `setPrompt` is called before block b. A model that takes
 * the pose (config `action.pose`) gets each truth frame's pose with its action (and the spawn
 * pose with the opening), as the game server gives it; `--no-pose` leaves the pose out
 * (all-zero features: the model runs from keys and mouse alone). A model that takes the
 * level's geometry (config `action.geometry`) gets the map of each truth pose
 * (renderGeometry, as the game server computes it); `--no-geometry` leaves it out.
 *
 * 1. Horizons: PSNR / SSIM (tools/eval/metrics.ts) at 1, 5 and 30 s: "at h" = the mean over
 *    the block whose last frame is at h (frames in (h − F/fps, h]), and the mean over the frames
 *    whose time k/fps is in (h−1, h]; averaged over the episodes; also for the baseline
 *    "repeat the last true frame" (truth frame 0, the view the model starts from).
 * 2. Drift: one long rollout in 10-s chunks; VDE (LV-Bench) of the chunks' PSNR vs truth and
 *    of the model's clarity, with the truth's clarity VDE as reference.
 * 3. Prompt switches: a nearest-centroid lighting classifier (centroids from the truth frames
 *    of the eval episodes); a switch shows within n blocks when the last frame of the n-th
 *    block after setPrompt is classified as the new prompt. Sanity: the classifier's accuracy
 *    on the model's frames before any switch, and on the truth frames.
 * 4. Strips: truth (top) vs model (bottom) PNGs in the out directory.
 * 5. Report: <out>/metrics.json and bench/results/eval-<timestamp>.json; a table on stdout.
 *
 * Progress goes to stderr. The model must have an opening for every (prompt, spawn) the
 * episodes start at; `--spawns` restricts the episodes to some spawn points (for test models).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { loadModel, type Model } from '../../sdk/src/model.js';
import { actionSize, encodeGeometry, poseFeatures, type ActionInput, type ActionSpace, type LatentSize, type Pose } from '../../sdk/src/actions.js';
import { poseInputs } from '../../world/src/conditioning.js';
import { defaultLevel, type Level } from '../../world/src/levels/index.js';
import { PROMPTS } from '../../world/src/render.js';
import { FPS as DATASET_FPS, episodePose, generateEpisode, planEpisode, type EpisodeData, type EpisodePlan } from '../dataset/generate.js';
import { clarity, lightingFeatures, nearestCentroid, psnr, ssim, vde } from './metrics.js';
import { writeFrameGrid } from './strip.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const HORIZONS = [1, 5, 30];
/** Seconds of the switch episodes (before the cut at 2 blocks after the switch). */
const SWITCH_EPISODE_SECONDS = 6;
/** Blocks after setPrompt at which the switch is checked (the headline is 2). */
const SWITCH_BLOCKS = [1, 2, 3];
/** First episode ids of each set (disjoint; all at --seed). */
const ID_BASE = { horizon: 0, drift: 100_000, switch: 200_000, centroid: 300_000 };

// ------------------------------------------------------------------ settings

interface Settings {
  model: string;
  out: string;
  episodes: number;
  seconds: number;
  driftSeconds: number;
  chunkSeconds: number;
  switches: number;
  seed: number;
  threads?: number;
  /** Storage of the linear layers' weights (default f32, as shipped). */
  weights?: 'f32' | 'bf16' | 'int8';
  spawns: number[] | null;
  pose: boolean;
  geometry: boolean;
  quick: boolean;
}

const USAGE =
  'usage: npm run eval -- [--model DIR] [--out DIR] [--episodes N] [--seconds S] [--drift-seconds S] [--switches K] [--seed N] [--threads N] [--weights f32|bf16|int8] [--spawns 0,1] [--no-pose] [--no-geometry] [--quick]';

function weightsOf(v: string | undefined): Settings['weights'] {
  if (v === undefined || v === 'f32' || v === 'bf16' || v === 'int8') return v;
  throw new Error(`--weights must be f32, bf16 or int8 (got ${v})`);
}

function parseSettings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string', default: 'models/default' },
      out: { type: 'string' },
      episodes: { type: 'string' },
      seconds: { type: 'string' },
      'drift-seconds': { type: 'string' },
      'chunk-seconds': { type: 'string', default: '10' },
      switches: { type: 'string' },
      seed: { type: 'string', default: '90210' },
      threads: { type: 'string' },
      weights: { type: 'string' },
      spawns: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'no-pose': { type: 'boolean', default: false },
      'no-geometry': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const quick = values.quick!;
  const num = (v: string | undefined, dflt: number, name: string, min = 1): number => {
    const n = v === undefined ? dflt : Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min} (got ${v})`);
    return n;
  };
  const int = (v: string | undefined, dflt: number, name: string, min = 1): number => {
    const n = num(v, dflt, name, min);
    if (!Number.isInteger(n)) throw new Error(`--${name} must be an integer (got ${v})`);
    return n;
  };
  const model = values.model!;
  const s: Settings = {
    model,
    out: values.out ?? join(model, 'eval'),
    episodes: int(values.episodes, quick ? 2 : 8, 'episodes'),
    seconds: num(values.seconds, quick ? 6 : 30, 'seconds', 0.2),
    driftSeconds: num(values['drift-seconds'], quick ? 20 : 120, 'drift-seconds', 0),
    chunkSeconds: num(values['chunk-seconds'], 10, 'chunk-seconds', 0.2),
    switches: int(values.switches, quick ? 4 : 12, 'switches', 0),
    seed: int(values.seed, 90210, 'seed', 0),
    threads: values.threads === undefined ? undefined : int(values.threads, 1, 'threads'),
    weights: weightsOf(values.weights),
    spawns: values.spawns === undefined ? null : values.spawns.split(',').map((x) => int(x.trim(), 0, 'spawns', 0)),
    pose: !values['no-pose'],
    geometry: !values['no-geometry'],
    quick,
  };
  if (s.seed === 1) process.stderr.write('eval: warning: seed 1 is the training data\n');
  if (s.driftSeconds > 0 && s.driftSeconds < s.chunkSeconds) throw new Error(`--drift-seconds (${s.driftSeconds}) must be 0 or at least one chunk (${s.chunkSeconds} s)`);
  return s;
}

// ------------------------------------------------------------------ episodes

async function episode(level: Level, seed: number, plan: EpisodePlan, size: number): Promise<EpisodeData> {
  return generateEpisode(level, seed, plan.id, plan.frames, size);
}

function pickEpisodes(n: number, base: number, plan: (id: number) => EpisodePlan, keep: (p: EpisodePlan) => boolean): EpisodePlan[] {
  const out: EpisodePlan[] = [];
  for (let id = base; out.length < n; id++) {
    if (id - base > 100_000) throw new Error(`found only ${out.length} of ${n} suitable episodes in ids ${base}..${id}`);
    const p = plan(id);
    if (keep(p)) out.push(p);
  }
  return out;
}

// ------------------------------------------------------------------ rollouts

interface FrameMetrics {
  /** Truth frame index. */
  k: number;
  psnr: number;
  ssim: number;
  baselinePsnr: number;
  baselineSsim: number;
  clarity: number;
  truthClarity: number;
}

interface SwitchEvent {
  episode: number;
  set: string;
  /** The first block run with the new prompt, and the first truth frame that has it. */
  block: number;
  truthFrame: number;
  from: string;
  to: string;
  /** Classified prompt of the last frame of the n-th block after setPrompt (n = SWITCH_BLOCKS), null when not run. */
  classifiedAfter: Record<number, string | null>;
  /** Features of those frames (classified once the centroids are known). */
  features: Record<number, number[] | undefined>;
}

interface Rollout {
  frames: FrameMetrics[];
  events: SwitchEvent[];
  /** Model-frame features before any switch, with the session's prompt. */
  before: { prompt: number; features: number[] }[];
  captures: Map<number, { truth: Uint8Array; model: Uint8Array }>;
}

interface Context {
  model: Model;
  F: number;
  openingFrames: number;
  size: number;
  frameBytes: number;
  space: ActionSpace;
  /**
   * What a truth pose gives a frame, as the game server gives it (poseInputs): the pose and
   * its geometry map, for a model that takes them, less what --no-pose / --no-geometry leave out.
   */
  truth: (pose: Pose) => Pick<ActionInput, 'pose' | 'geometry'>;
  latent: LatentSize;
  engine: { frames: number; stepSeconds: number; engineSeconds: number; decodeMs: number; blocks: number };
}

/** Blocks of an episode of `frames` truth frames (frame 0 is the opening). */
const blocksOf = (ctx: Context, frames: number): number => Math.floor((frames - 1) / ctx.F);

/**
 * The inputs of episode frames k0 .. k0+n−1: the encoded action rows (the recorded
 * key/mouse row, then the pose features) and, for a geometry model, the maps of the
 * truth poses [channels, n, H, W].
 */
function episodeInputs(ctx: Context, ep: EpisodeData, k0: number, n: number): { actions: Float32Array; geometry?: Float32Array } {
  const { space, latent } = ctx;
  const row = space.keys.length + space.mouse.length;
  const A = actionSize(space);
  const out = new Float32Array(n * A);
  const truths: Pick<ActionInput, 'pose' | 'geometry'>[] = [];
  for (let i = 0; i < n; i++) {
    out.set(ep.actions.subarray((k0 + i) * row, (k0 + i + 1) * row), i * A);
    const t = ctx.truth(episodePose(ep, k0 + i));
    if (t.pose) poseFeatures(space.pose!, t.pose, out, i * A + row);
    truths.push(t);
  }
  return { actions: out, geometry: encodeGeometry(truths, space, n, latent) };
}

async function rollout(ctx: Context, ep: EpisodeData, set: string, opts: { lastBlock?: number; capture?: Iterable<number> } = {}): Promise<Rollout> {
  const { model, F, frameBytes: fb, size } = ctx;
  const T = ep.meta.frames;
  const id = ep.meta.id;
  let current = ep.prompts[0]!;
  const opening = `${PROMPTS[current]}/${ep.meta.spawn.index}`;
  // the opening is the character standing at its spawn point: truth frame 0's pose (and its map)
  const spawnInputs = ctx.truth(episodePose(ep, 0));
  const openingActions = spawnInputs.pose || spawnInputs.geometry ? spawnInputs : undefined;
  const s = model.createSession({ seed: id, prompt: PROMPTS[current], opening, openingActions });
  const capture = new Set(opts.capture ?? []);
  const out: Rollout = { frames: [], events: [], before: [], captures: new Map() };
  const truth0 = ep.frames.subarray(0, fb);
  try {
    const nBlocks = Math.min(opts.lastBlock ?? Infinity, blocksOf(ctx, T));
    for (let b = 1; b <= nBlocks; b++) {
      const k0 = (b - 1) * F + 1;
      for (let k = k0; k < k0 + F; k++) {
        const p = ep.prompts[k]!;
        if (p === current) continue;
        await s.setPrompt(PROMPTS[p]!);
        out.events.push({ episode: id, set, block: b, truthFrame: k, from: PROMPTS[current]!, to: PROMPTS[p]!, classifiedAfter: {}, features: {} });
        current = p;
        break;
      }
      const inputs = episodeInputs(ctx, ep, k0, F);
      const t0 = performance.now();
      const block = await s.step(inputs);
      ctx.engine.stepSeconds += (performance.now() - t0) / 1e3;
      ctx.engine.engineSeconds += block.seconds;
      ctx.engine.decodeMs += block.decodeMs;
      ctx.engine.frames += block.images.length;
      ctx.engine.blocks++;
      if (block.frameStart !== ctx.openingFrames + (b - 1) * F)
        throw new Error(`episode ${id}: block ${b} starts at model frame ${block.frameStart}, expected ${ctx.openingFrames + (b - 1) * F}`);
      if (block.images.length !== F) throw new Error(`episode ${id}: block ${b} decoded ${block.images.length} frames, expected ${F} (one per latent frame)`);
      for (let i = 0; i < F; i++) {
        const k = k0 + i;
        const img = block.images[i]!;
        if (img.width !== size || img.height !== size) throw new Error(`decoded frame is ${img.width}×${img.height}, truth is ${size}×${size}`);
        const m = img.rgb;
        const t = ep.frames.subarray(k * fb, (k + 1) * fb);
        out.frames.push({
          k,
          psnr: psnr(m, t),
          ssim: ssim(m, t, size, size),
          baselinePsnr: psnr(truth0, t),
          baselineSsim: ssim(truth0, t, size, size),
          clarity: clarity(m, size, size),
          truthClarity: clarity(t, size, size),
        });
        if (capture.has(k)) out.captures.set(k, { truth: Uint8Array.from(t), model: Uint8Array.from(m) });
        if (out.events.length === 0) out.before.push({ prompt: current, features: lightingFeatures(m, size, size) });
      }
      const last = block.images[F - 1]!.rgb;
      for (const ev of out.events) {
        const n = b - ev.block + 1;
        if (SWITCH_BLOCKS.includes(n)) ev.features[n] = lightingFeatures(last, size, size);
      }
    }
  } finally {
    await s.close();
  }
  return out;
}

// ------------------------------------------------------------------ aggregation

const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

interface Pair {
  psnr: number;
  ssim: number;
}

/** Mean metrics over the frames whose time is in (lo, hi] seconds. */
function window(frames: readonly FrameMetrics[], fps: number, lo: number, hi: number): { model: Pair; baseline: Pair; frames: number } | null {
  const sel = frames.filter((f) => f.k / fps > lo + 1e-9 && f.k / fps <= hi + 1e-9);
  if (sel.length === 0) return null;
  return {
    model: { psnr: mean(sel.map((f) => f.psnr)), ssim: mean(sel.map((f) => f.ssim)) },
    baseline: { psnr: mean(sel.map((f) => f.baselinePsnr)), ssim: mean(sel.map((f) => f.baselineSsim)) },
    frames: sel.length,
  };
}

function meanPairs(ps: readonly Pair[]): Pair {
  return { psnr: mean(ps.map((p) => p.psnr)), ssim: mean(ps.map((p) => p.ssim)) };
}

/** Frames side by side: truth on the top row, model on the bottom row, 2-px gaps. */
async function writeStrip(path: string, cols: { truth: Uint8Array; model: Uint8Array }[], size: number): Promise<void> {
  await writeFrameGrid(path, [cols.map((c) => c.truth), cols.map((c) => c.model)], size, size);
}

// ------------------------------------------------------------------ main

const fmt = (v: number | null | undefined, d = 2): string => (v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(d));

function log(msg: string): void {
  process.stderr.write(`eval: ${msg}\n`);
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const wall0 = performance.now();
  const st = parseSettings(argv);
  const level = defaultLevel;
  const configFile = join(st.model, 'config.json');
  // latent frames per second of world time (no temporal compression: = video frames/s)
  const rawConfig = JSON.parse(readFileSync(configFile, 'utf8')) as { latent_fps?: number };
  const fps = rawConfig.latent_fps || DATASET_FPS;
  if (fps !== DATASET_FPS) log(`warning: the model's latent_fps is ${fps}, the renderer's episodes are ${DATASET_FPS} frames/s`);

  const spawnOk = (p: EpisodePlan): boolean => st.spawns === null || st.spawns.includes(p.spawnIndex);
  if (st.spawns) for (const i of st.spawns) if (i >= level.spawns.length) throw new Error(`--spawns: the level has spawns 0..${level.spawns.length - 1}`);

  const model = await loadModel(st.model, { threads: st.threads, weights: st.weights });
  try {
    const c = model.config;
    const F = c.num_frame_per_block;
    if (!c.action) throw new Error(`${st.model} takes no actions; the eval needs the default world's action space`);
    const space = c.action;
    if (!model.decoder) throw new Error(`${st.model} has no decoder: the eval compares decoded frames`);
    if (model.openings.size === 0) throw new Error(`${st.model} ships no openings (openings.safetensors): the eval starts every rollout from one`);
    const latentFrame = c.latent_channels * c.latent_height * c.latent_width;
    const openingFrames = model.openings.values().next().value!.length / latentFrame;
    const frames = (seconds: number): number => Math.ceil((seconds * fps) / F) * F + 1;

    // The episodes of each part, planned without rendering.
    const plan = (frames: number) => (id: number) => planEpisode(level, st.seed, id, frames);
    const horizonPlans = pickEpisodes(st.episodes, ID_BASE.horizon, plan(frames(st.seconds)), spawnOk);
    const driftPlans = st.driftSeconds > 0 ? pickEpisodes(1, ID_BASE.drift, plan(frames(st.driftSeconds)), (p) => spawnOk(p) && p.switchAt === null) : [];
    const switchFrames = frames(SWITCH_EPISODE_SECONDS);
    const switchBlock = (p: EpisodePlan): number => Math.ceil(p.switchAt! / F);
    const lastCheck = Math.max(...SWITCH_BLOCKS);
    const switchPlans = pickEpisodes(st.switches, ID_BASE.switch, plan(switchFrames), (p) => spawnOk(p) && p.switchAt !== null && (switchBlock(p) + lastCheck - 1) * F <= switchFrames - 1);
    const all = [...horizonPlans, ...driftPlans, ...switchPlans];
    const missing = [...new Set(all.map((p) => `${PROMPTS[p.prompt0]}/${p.spawnIndex}`))].filter((n) => !model.openings.has(n));
    if (missing.length)
      throw new Error(
        `${st.model} has no opening ${missing.map((n) => `"${n}"`).join(', ')} (needed by episodes of seed ${st.seed} starting at those prompt/spawn pairs); ` +
          `it has ${[...model.openings.keys()].join(', ')}. Pass --spawns with the spawn indices it has to evaluate only those.`,
      );

    // Frame size: one warm-up block (not counted in the engine's frames/s).
    const warm = model.createSession({ seed: 0, prompt: PROMPTS[horizonPlans[0]!.prompt0], opening: `${PROMPTS[horizonPlans[0]!.prompt0]}/${horizonPlans[0]!.spawnIndex}` });
    const latent = { height: model.config.latent_height, width: model.config.latent_width };
    const wb = await warm.step({ actions: new Float32Array(F * actionSize(space)) });
    await warm.close();
    const img0 = wb.images[0];
    if (!img0) throw new Error('the decoder returned no frames');
    if (img0.width !== img0.height) throw new Error(`the eval's renderer makes square frames; the model's are ${img0.width}×${img0.height}`);
    if (wb.frameStart !== openingFrames) throw new Error(`the first block starts at frame ${wb.frameStart}, expected ${openingFrames} (the opening's frames)`);
    const size = img0.width;
    const ctx: Context = {
      model,
      F,
      openingFrames,
      size,
      frameBytes: size * size * 3,
      space,
      truth: (pose) => poseInputs(pose, { ...space, pose: st.pose ? space.pose : undefined, geometry: st.geometry ? space.geometry : undefined }, { view: { level, latent } }),
      latent,
      engine: { frames: 0, stepSeconds: 0, engineSeconds: 0, decodeMs: 0, blocks: 0 },
    };
    log(
      `model ${st.model}: ${size}×${size} frames, ${F} per block, ${fps} fps; ${horizonPlans.length} episodes × ${st.seconds} s, drift ${st.driftSeconds} s, ` +
        `${switchPlans.length} switch episodes; seed ${st.seed}`,
    );

    // Lighting centroid sums from every truth frame of the eval episodes.
    const cent = PROMPTS.map(() => ({ sum: [0, 0, 0, 0, 0, 0], n: 0 }));
    const truthFeatures: { prompt: number; features: number[] }[] = [];
    const addTruth = (ep: EpisodeData): void => {
      for (let k = 0; k < ep.meta.frames; k++) {
        const f = lightingFeatures(ep.frames.subarray(k * ctx.frameBytes, (k + 1) * ctx.frameBytes), size, size);
        const p = ep.prompts[k]!;
        cent[p]!.n++;
        f.forEach((v, i) => (cent[p]!.sum[i]! += v));
        truthFeatures.push({ prompt: p, features: f });
      }
    };
    const events: SwitchEvent[] = [];
    const before: { prompt: number; features: number[] }[] = [];
    const since = (): string => `${((performance.now() - wall0) / 1e3).toFixed(0)} s`;
    const describe = (p: EpisodePlan) => ({
      id: p.id,
      frames: p.frames,
      spawn: p.spawnIndex,
      policy: p.policy,
      prompt: PROMPTS[p.prompt0],
      switchAt: p.switchAt,
      switchTo: p.switchAt === null ? null : PROMPTS[p.prompt1],
    });

    // 1. Horizons.
    const stripSeconds = Array.from({ length: Math.min(10, Math.floor(st.seconds)) }, (_, i) => i + 1);
    const strip30Seconds = Array.from({ length: Math.floor(Math.min(30, st.seconds) / 5) }, (_, i) => 5 * (i + 1));
    const horizonRuns: { plan: EpisodePlan; frames: FrameMetrics[] }[] = [];
    const strips: string[] = [];
    mkdirSync(st.out, { recursive: true });
    for (const [j, p] of horizonPlans.entries()) {
      const ep = await episode(level, st.seed, p, size);
      addTruth(ep);
      const capture = j === 0 ? [...stripSeconds, ...strip30Seconds].map((t) => Math.round(t * fps)) : [];
      const r = await rollout(ctx, ep, 'horizon', { capture });
      events.push(...r.events);
      before.push(...r.before);
      horizonRuns.push({ plan: p, frames: r.frames });
      if (j === 0) {
        const cols = (ts: number[]) => ts.map((t) => r.captures.get(Math.round(t * fps))).filter((x) => x !== undefined);
        if (stripSeconds.length) {
          const path = join(st.out, 'strip.png');
          await writeStrip(path, cols(stripSeconds), size);
          strips.push(path);
        }
        if (strip30Seconds.length >= 2) {
          const path = join(st.out, 'strip_30s.png');
          await writeStrip(path, cols(strip30Seconds), size);
          strips.push(path);
        }
      }
      const w1 = window(r.frames, fps, 0, 1);
      log(`horizon episode ${j + 1}/${horizonPlans.length} (id ${p.id}, spawn ${p.spawnIndex}, ${p.policy}): 1-s PSNR ${fmt(w1?.model.psnr)} dB; ${since()}`);
    }
    const horizons = HORIZONS.filter((h) => h <= st.seconds + 1e-9).map((h) => {
      const per = horizonRuns.map((r) => window(r.frames, fps, h - 1, h)).filter((w) => w !== null);
      // "at h": the block whose last frame is at h seconds (prediction horizon h)
      const atLo = h - F / fps;
      const at = horizonRuns.map((r) => window(r.frames, fps, atLo, h)).filter((w) => w !== null);
      return {
        seconds: h,
        at: { window: [atLo, h], model: meanPairs(at.map((w) => w.model)), baseline: meanPairs(at.map((w) => w.baseline)) },
        window: [h - 1, h],
        framesPerEpisode: per[0]?.frames ?? 0,
        model: meanPairs(per.map((w) => w.model)),
        baseline: meanPairs(per.map((w) => w.baseline)),
        perEpisode: per.map((w, i) => ({ id: horizonRuns[i]!.plan.id, model: w.model, baseline: w.baseline })),
      };
    });
    const perSecond = Array.from({ length: Math.ceil(st.seconds - 1e-9) }, (_, i) => {
      const ws = horizonRuns.map((r) => window(r.frames, fps, i, i + 1)).filter((w) => w !== null);
      return { second: i + 1, model: meanPairs(ws.map((w) => w.model)), baseline: meanPairs(ws.map((w) => w.baseline)) };
    });

    // 2. Drift.
    let drift: Record<string, unknown> | null = null;
    if (driftPlans.length) {
      const p = driftPlans[0]!;
      const ep = await episode(level, st.seed, p, size);
      addTruth(ep);
      const chunkFrames = Math.round(st.chunkSeconds * fps);
      const N = Math.floor((p.frames - 1) / chunkFrames);
      const captureDrift = Array.from({ length: N }, (_, i) => (i + 1) * chunkFrames);
      log(`drift episode (id ${p.id}, spawn ${p.spawnIndex}, ${p.policy}): ${p.frames - 1} frames in ${N} chunks of ${st.chunkSeconds} s`);
      const r = await rollout(ctx, ep, 'drift', { capture: captureDrift });
      events.push(...r.events);
      before.push(...r.before);
      const chunks = Array.from({ length: N }, (_, i) => {
        const sel = r.frames.filter((f) => f.k > i * chunkFrames && f.k <= (i + 1) * chunkFrames);
        return {
          chunk: i + 1,
          seconds: [(i * chunkFrames) / fps, ((i + 1) * chunkFrames) / fps],
          psnr: mean(sel.map((f) => f.psnr)),
          ssim: mean(sel.map((f) => f.ssim)),
          clarity: mean(sel.map((f) => f.clarity)),
          truthClarity: mean(sel.map((f) => f.truthClarity)),
        };
      });
      const safeVde = (xs: number[]): number | null => {
        try {
          return vde(xs);
        } catch {
          return null;
        }
      };
      drift = {
        episode: describe(p),
        chunkSeconds: st.chunkSeconds,
        chunks,
        vde: {
          psnr: safeVde(chunks.map((x) => x.psnr)),
          clarity: safeVde(chunks.map((x) => x.clarity)),
          truthClarity: safeVde(chunks.map((x) => x.truthClarity)),
        },
      };
      const path = join(st.out, 'strip_drift.png');
      await writeStrip(path, captureDrift.map((k) => r.captures.get(k)!).filter(Boolean), size);
      strips.push(path);
      log(`drift done: VDE psnr ${fmt((drift.vde as { psnr: number | null }).psnr, 3)}; ${since()}`);
    }

    // 3. Prompt switches (rollouts cut 3 blocks after the switch's block).
    for (const [j, p] of switchPlans.entries()) {
      const ep = await episode(level, st.seed, p, size);
      addTruth(ep);
      const r = await rollout(ctx, ep, 'switch', { lastBlock: switchBlock(p) + lastCheck - 1 });
      events.push(...r.events);
      before.push(...r.before);
      log(`switch episode ${j + 1}/${switchPlans.length} (id ${p.id}, ${PROMPTS[p.prompt0]} → ${PROMPTS[p.prompt1]} at frame ${p.switchAt}); ${since()}`);
    }
    // Every prompt needs a centroid: a short truth-only episode for any prompt not seen yet.
    for (let q = 0; q < PROMPTS.length; q++) {
      if (cent[q]!.n > 0) continue;
      const [p] = pickEpisodes(1, ID_BASE.centroid, plan(frames(3)), (x) => x.prompt0 === q && x.switchAt === null);
      addTruth(await episode(level, st.seed, p!, size));
      log(`centroid of "${PROMPTS[q]}" from truth-only episode ${p!.id}`);
    }
    const centroids = cent.map((x) => x.sum.map((v) => v / x.n));
    const classify = (f: number[]): number => nearestCentroid(f, centroids);
    for (const ev of events)
      for (const n of SWITCH_BLOCKS) ev.classifiedAfter[n] = ev.features[n] ? PROMPTS[classify(ev.features[n]!)]! : null;
    const rate = (n: number) => {
      const done = events.filter((e) => e.classifiedAfter[n] !== null);
      return { blocks: n, shown: done.filter((e) => e.classifiedAfter[n] === e.to).length, total: done.length, rate: done.length ? done.filter((e) => e.classifiedAfter[n] === e.to).length / done.length : null };
    };
    const accuracy = (xs: { prompt: number; features: number[] }[]) => {
      const correct = xs.filter((x) => classify(x.features) === x.prompt).length;
      return { correct, total: xs.length, rate: xs.length ? correct / xs.length : null };
    };
    const switchRates = SWITCH_BLOCKS.map(rate);
    const switches = {
      definition: 'a switch shows within n blocks when the last frame of the n-th block run after setPrompt is classified as the new prompt (nearest centroid of [mean RGB of the top third, of the bottom two-thirds])',
      within2Blocks: switchRates.find((x) => x.blocks === 2)!,
      withinBlocks: switchRates,
      classifierAccuracy: { modelBeforeSwitch: accuracy(before), truth: accuracy(truthFeatures) },
      centroids: Object.fromEntries(PROMPTS.map((q, i) => [q, { features: centroids[i]!.map((v) => +v.toFixed(2)), truthFrames: cent[i]!.n }])),
      events: events.map(({ features: _f, ...e }) => e),
    };

    // 4-5. Report.
    const wallSeconds = (performance.now() - wall0) / 1e3;
    const e = ctx.engine;
    const report = {
      version: 1,
      createdAt: new Date().toISOString(),
      model: { dir: resolve(st.model), info: model.info() },
      settings: { ...st, model: resolve(st.model), out: resolve(st.out), fps, frameSize: size, framesPerBlock: F, openingFrames, horizons: HORIZONS, switchEpisodeSeconds: SWITCH_EPISODE_SECONDS },
      wallSeconds,
      engine: {
        frames: e.frames,
        blocks: e.blocks,
        stepSeconds: e.stepSeconds,
        framesPerSecond: e.frames / e.stepSeconds,
        engineFramesPerSecond: e.frames / e.engineSeconds,
        decodeMsPerBlock: e.decodeMs / Math.max(1, e.blocks),
        note: 'framesPerSecond = decoded frames / wall seconds inside step() (denoise + commit + decode); engineFramesPerSecond counts the engine thread only',
      },
      episodes: { horizon: horizonPlans.map(describe), drift: driftPlans.map(describe), switch: switchPlans.map(describe) },
      horizons,
      perSecond,
      drift,
      switches,
      strips: strips.map((p) => resolve(p)),
    };
    const json = JSON.stringify(report, null, 1) + '\n';
    writeFileSync(join(st.out, 'metrics.json'), json);
    const benchDir = join(ROOT, 'bench', 'results');
    mkdirSync(benchDir, { recursive: true });
    const benchFile = join(benchDir, `eval-${report.createdAt.replace(/[:.]/g, '-')}.json`);
    writeFileSync(benchFile, json);

    // Table.
    const lines: string[] = [];
    lines.push(`world-model eval: ${resolve(st.model)} (seed ${st.seed}, ${horizonPlans.length} episodes × ${st.seconds} s)`);
    lines.push('');
    lines.push('horizon             model PSNR  model SSIM  repeat-frame PSNR  repeat-frame SSIM');
    for (const h of horizons) {
      lines.push(
        `at ${`${h.seconds} s`.padEnd(16)} ${fmt(h.at.model.psnr).padStart(10)}  ${fmt(h.at.model.ssim, 4).padStart(10)}  ${fmt(h.at.baseline.psnr).padStart(17)}  ${fmt(h.at.baseline.ssim, 4).padStart(17)}`,
      );
      lines.push(
        `mean (${h.seconds - 1}, ${h.seconds}] s`.padEnd(19) +
          ` ${fmt(h.model.psnr).padStart(10)}  ${fmt(h.model.ssim, 4).padStart(10)}  ${fmt(h.baseline.psnr).padStart(17)}  ${fmt(h.baseline.ssim, 4).padStart(17)}`,
      );
    }
    if (drift) {
      const d = drift as { chunks: { chunk: number; seconds: number[]; psnr: number; ssim: number; clarity: number; truthClarity: number }[]; vde: Record<string, number | null> };
      lines.push('');
      lines.push(`drift (${st.driftSeconds} s, chunks of ${st.chunkSeconds} s)`);
      lines.push('chunk  seconds      PSNR    SSIM  clarity  truth clarity');
      for (const ch of d.chunks)
        lines.push(
          `${String(ch.chunk).padStart(5)}  ${`${fmt(ch.seconds[0], 0)}-${fmt(ch.seconds[1], 0)}`.padEnd(9)} ${fmt(ch.psnr).padStart(7)} ${fmt(ch.ssim, 4).padStart(7)} ${fmt(ch.clarity, 1).padStart(8)} ${fmt(ch.truthClarity, 1).padStart(14)}`,
        );
      lines.push(`VDE: PSNR ${fmt(d.vde.psnr, 3)}, clarity ${fmt(d.vde.clarity, 3)} (truth clarity ${fmt(d.vde.truthClarity, 3)})`);
    }
    lines.push('');
    const r2 = switches.within2Blocks;
    lines.push(
      `prompt switches shown within 2 blocks: ${r2.shown}/${r2.total} (${fmt(r2.rate === null ? null : 100 * r2.rate, 0)}%); ` +
        switchRates.map((x) => `${x.blocks} block${x.blocks > 1 ? 's' : ''}: ${x.shown}/${x.total}`).join(', '),
    );
    const acc = switches.classifierAccuracy;
    lines.push(
      `lighting classifier accuracy: model frames before switches ${acc.modelBeforeSwitch.correct}/${acc.modelBeforeSwitch.total} (${fmt(acc.modelBeforeSwitch.rate === null ? null : 100 * acc.modelBeforeSwitch.rate, 1)}%), truth frames ${acc.truth.correct}/${acc.truth.total} (${fmt(acc.truth.rate === null ? null : 100 * acc.truth.rate, 1)}%)`,
    );
    lines.push('');
    lines.push(`engine: ${e.frames} frames at ${fmt(report.engine.framesPerSecond, 1)} frames/s (step+decode; engine thread ${fmt(report.engine.engineFramesPerSecond, 1)} frames/s); wall ${fmt(wallSeconds, 0)} s`);
    lines.push(`report: ${join(st.out, 'metrics.json')}, ${relative(process.cwd(), benchFile)}`);
    if (strips.length) lines.push(`strips: ${strips.join(', ')}`);
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    model.close();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    // Plain Errors are the eval's own messages; anything else gets its stack.
    const err = e as Error;
    process.stderr.write(`eval: ${err?.constructor === Error ? err.message : (err?.stack ?? String(e))}\n`);
    process.exit(1);
  });
}

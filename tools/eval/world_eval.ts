/**
 * Evaluation of a default-world model against the ground-truth renderer.
 *
 *   npm run eval -- [--model models/default] [--out <model>/eval] [--episodes 8] [--seconds 30]
 *                   [--drift-seconds 120] [--switches 12] [--character-episodes 8]
 *                   [--character-seconds 10] [--detector-scenes 24] [--seed 90210] [--threads N]
 *                   [--spawns 0,1] [--no-pose] [--no-geometry] [--quick]
 *                   [--only horizons,drift,switches,characters,detector]
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
 * (renderGeometry, as the game server computes it); `--no-geometry` leaves it out. A model
 * whose decoder takes the geometry gets the decoder's map of each truth pose either way
 * (every decoded frame needs its map).
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
 * 4. Sharpness (issue 19) of the horizon episodes' frames, per horizon window (h−1, h] and
 *    prompt (each frame's truth prompt): edge F1 against the truth (metrics.ts edgeF1: Sobel
 *    magnitude at or above the truth frame's 88th percentile for both frames, matched within
 *    1 px; and with the model frame at its own 88th percentile) and the high-frequency energy
 *    ratio Σ RMS(Laplacian) model / Σ truth; also over all frames, and over the character
 *    episodes' frames.
 * 5. Characters (issue 19): held-out episodes with 0–3 walkers (the dataset generator's
 *    `--characters` plans at this seed), each frame's map drawn with them as the game server
 *    does. In each model frame the detector (characters.ts: from pixels only, under the frame's
 *    prompt) looks for colours 0–2; a visible truth character (silhouette from the capsules,
 *    ≥ 24 px that differ by ≥ 24 from the view without characters) is found when a detection of
 *    its colour has its centre in its box. Recall, false-detection rate (false / all detections;
 *    also detections on character-free frames: every 5th frame of the horizon episodes), and
 *    entries: a character entering the view (not visible in the block before, visible in its
 *    block and the next) appears within one block when the model's frames show it in its entry
 *    block or the next; leaves: gone within one block when no detection of its colour is in the
 *    two blocks after the one it left in. The detector is validated the same way on the truth
 *    frames, and on seeded truth scenes (characters.ts detectorValidation), exact and changed as
 *    another renderer changes a frame: blurred, recoloured by ±4%, mottled by ±3%
 *    (characters.ts detectorRobustness).
 * 6. Strips: truth (top) vs model (bottom) PNGs in the out directory; for characters, truth
 *    with its visible characters' boxes (white), the model, and the model with its detections'
 *    boxes (in their colour) and the truth's (white), one column per block around an entry.
 * 7. Report: <out>/metrics.json and bench/results/eval-<timestamp>.json; a table on stdout.
 *
 * `--quick` runs a small version of every part (a few minutes); `--only` runs some parts
 * (e.g. `--only horizons,characters` for the sharpness and character figures).
 *
 * Progress goes to stderr. The model must have an opening for every (prompt, spawn) the
 * episodes start at; `--spawns` restricts the episodes to some spawn points (for test models).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { checkDecoderPrecision } from '../../sdk/src/decoder.js';
import { denoisingStepsArg, loadModel, type Model } from '../../sdk/src/model.js';
import { actionSize, encodeFrameGeometry, encodeGeometry, poseFeatures, type ActionSpace, type LatentSize, type Pose } from '../../sdk/src/actions.js';
import { poseInputs, type PoseInputs } from '../../world/src/conditioning.js';
import { defaultLevel, spawnPose, type Level } from '../../world/src/levels/index.js';
import { CHARACTER_COLORS, PROMPTS, eyeFromCharacter, type CharacterShape } from '../../world/src/render.js';
import {
  FPS as DATASET_FPS,
  MAX_OTHERS,
  OTHER_FLOATS,
  episodePose,
  generateEpisode,
  otherShapes,
  planEpisode,
  planOthers,
  type EpisodeData,
  type EpisodePlan,
} from '../dataset/generate.js';
import {
  DETECT_COLORS,
  DETECT_MIN_PIXELS,
  DetectorTally,
  VISIBLE_CONTRAST,
  VISIBLE_MIN_PIXELS,
  PERTURBATIONS,
  detectCharacters,
  detectorRobustness,
  detectorValidation,
  matchDetections,
  viewTruth,
  type Detection,
  type DetectorScore,
  type FrameMatch,
  type TruthCharacter,
} from './characters.js';
import { EDGE_PERCENTILE, clarity, lightingFeatures, nearestCentroid, psnr, sharpness, ssim, vde } from './metrics.js';
import { drawBox, writeFrameGrid } from './strip.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const HORIZONS = [1, 5, 30];
/** Seconds of the switch episodes (before the cut at 2 blocks after the switch). */
const SWITCH_EPISODE_SECONDS = 6;
/** Blocks after setPrompt at which the switch is checked (the headline is 2). */
const SWITCH_BLOCKS = [1, 2, 3];
/** First episode ids of each set (disjoint; all at --seed). */
const ID_BASE = { horizon: 0, drift: 100_000, switch: 200_000, centroid: 300_000, characters: 400_000 };
/** The eval's parts (--only). */
const PARTS = ['horizons', 'drift', 'switches', 'characters', 'detector'] as const;
type Part = (typeof PARTS)[number];
/** Every this many frames of the horizon episodes (no characters) are searched for characters: the false detections on character-free frames. */
const EMPTY_FRAME_STRIDE = 5;

// ------------------------------------------------------------------ settings

interface Settings {
  model: string;
  out: string;
  episodes: number;
  seconds: number;
  driftSeconds: number;
  chunkSeconds: number;
  switches: number;
  characterEpisodes: number;
  characterSeconds: number;
  detectorScenes: number;
  parts: Set<Part>;
  seed: number;
  threads?: number;
  /** Storage of the linear layers' weights (default f32, as shipped). */
  weights?: 'f32' | 'bf16' | 'int8';
  /** Arithmetic of the decoder's convolutions (default f32). */
  decoderPrecision?: 'f32' | 'bf16';
  /** The sampler's timesteps instead of the model's (default: the model's). */
  denoisingSteps?: number[];
  spawns: number[] | null;
  pose: boolean;
  geometry: boolean;
  quick: boolean;
}

const USAGE =
  'usage: npm run eval -- [--model DIR] [--out DIR] [--episodes N] [--seconds S] [--drift-seconds S] [--switches K] [--character-episodes N] [--character-seconds S] [--detector-scenes N] [--seed N] [--threads N] [--weights f32|bf16|int8] [--decoder-precision f32|bf16] [--denoising-steps 1000,500] [--spawns 0,1] [--no-pose] [--no-geometry] [--quick] [--only horizons,drift,switches,characters,detector]';

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
      'character-episodes': { type: 'string' },
      'character-seconds': { type: 'string' },
      'detector-scenes': { type: 'string' },
      only: { type: 'string' },
      seed: { type: 'string', default: '90210' },
      threads: { type: 'string' },
      weights: { type: 'string' },
      'decoder-precision': { type: 'string' },
      'denoising-steps': { type: 'string' },
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
  const parts = new Set<Part>(values.only === undefined ? PARTS : (values.only.split(',').map((x) => x.trim()) as Part[]));
  for (const p of parts) if (!PARTS.includes(p)) throw new Error(`--only: unknown part "${p}" (parts: ${PARTS.join(', ')})`);
  const s: Settings = {
    model,
    out: values.out ?? join(model, 'eval'),
    episodes: parts.has('horizons') ? int(values.episodes, quick ? 2 : 8, 'episodes') : 0,
    seconds: num(values.seconds, quick ? 6 : 30, 'seconds', 0.2),
    driftSeconds: parts.has('drift') ? num(values['drift-seconds'], quick ? 20 : 120, 'drift-seconds', 0) : 0,
    chunkSeconds: num(values['chunk-seconds'], 10, 'chunk-seconds', 0.2),
    switches: parts.has('switches') ? int(values.switches, quick ? 4 : 12, 'switches', 0) : 0,
    characterEpisodes: parts.has('characters') ? int(values['character-episodes'], quick ? 2 : 8, 'character-episodes', 0) : 0,
    characterSeconds: num(values['character-seconds'], quick ? 4 : 10, 'character-seconds', 0.4),
    detectorScenes: parts.has('detector') ? int(values['detector-scenes'], quick ? 4 : 24, 'detector-scenes', 0) : 0,
    parts,
    seed: int(values.seed, 90210, 'seed', 0),
    threads: values.threads === undefined ? undefined : int(values.threads, 1, 'threads'),
    weights: weightsOf(values.weights),
    decoderPrecision: checkDecoderPrecision(values['decoder-precision'], '--decoder-precision'),
    denoisingSteps: denoisingStepsArg(values['denoising-steps'], '--denoising-steps'),
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
  /** The truth frame's prompt (index into PROMPTS). */
  prompt: number;
  /** Sharpness against the truth (rollouts run with `sharpness`). */
  sharp?: { hfModel: number; hfTruth: number; f1: number; f1Own: number; precision: number; recall: number };
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
   * its geometry map, for a model that takes them, less what --no-pose / --no-geometry leave
   * out; and the decoder's map, for a model whose decoder takes one (always: it decodes).
   */
  truth: (pose: Pose, characters?: readonly CharacterShape[]) => PoseInputs;
  latent: LatentSize;
  engine: { frames: number; stepSeconds: number; engineSeconds: number; decodeMs: number; blocks: number };
}

/** The other characters of episode frame k (an episode made with characters), else undefined. */
function shapesAt(ep: EpisodeData, k: number): CharacterShape[] | undefined {
  if (!ep.others || !ep.meta.others) return undefined;
  const n = MAX_OTHERS * OTHER_FLOATS;
  return otherShapes(ep.others.subarray(k * n, (k + 1) * n), ep.meta.others.map((o) => o.color));
}

/** Blocks of an episode of `frames` truth frames (frame 0 is the opening). */
const blocksOf = (ctx: Context, frames: number): number => Math.floor((frames - 1) / ctx.F);

/**
 * The inputs of episode frames k0 .. k0+n−1: the encoded action rows (the recorded
 * key/mouse row, then the pose features), for a geometry model the maps of the truth poses
 * [channels, n, H, W] and, for a model whose decoder takes the geometry, the decoder's maps
 * of those poses [n × channels × h × w].
 */
function episodeInputs(ctx: Context, ep: EpisodeData, k0: number, n: number): { actions: Float32Array; geometry?: Float32Array; frameGeometry?: Float32Array } {
  const { space, latent } = ctx;
  const row = space.keys.length + space.mouse.length;
  const A = actionSize(space);
  const out = new Float32Array(n * A);
  const truths: PoseInputs[] = [];
  for (let i = 0; i < n; i++) {
    out.set(ep.actions.subarray((k0 + i) * row, (k0 + i + 1) * row), i * A);
    // the map of a frame shows the other characters where physics has them, as the game server draws it
    const t = ctx.truth(episodePose(ep, k0 + i), shapesAt(ep, k0 + i));
    if (t.pose) poseFeatures(space.pose!, t.pose, out, i * A + row);
    truths.push(t);
  }
  return { actions: out, geometry: encodeGeometry(truths, space, n, latent), frameGeometry: encodeFrameGeometry(truths, space, n) };
}

async function rollout(
  ctx: Context,
  ep: EpisodeData,
  set: string,
  opts: { lastBlock?: number; capture?: Iterable<number>; sharpness?: boolean; onFrame?: (k: number, model: Uint8Array, truth: Uint8Array) => void } = {},
): Promise<Rollout> {
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
        const sh = opts.sharpness ? sharpness(m, t, size, size) : null;
        out.frames.push({
          k,
          psnr: psnr(m, t),
          ssim: ssim(m, t, size, size),
          baselinePsnr: psnr(truth0, t),
          baselineSsim: ssim(truth0, t, size, size),
          clarity: clarity(m, size, size),
          truthClarity: clarity(t, size, size),
          prompt: ep.prompts[k]!,
          ...(sh
            ? { sharp: { hfModel: sh.hfModel, hfTruth: sh.hfTruth, f1: sh.edge.f1, f1Own: sh.edgeOwn.f1, precision: sh.edge.precision, recall: sh.edge.recall } }
            : {}),
        });
        opts.onFrame?.(k, m, t);
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

// ------------------------------------------------------------------ sharpness and characters

interface SharpAgg {
  frames: number;
  /** Mean edge F1 (the truth's threshold for both frames), its mean precision and recall, and the mean F1 with the model frame at its own percentile. */
  edgeF1: number | null;
  edgePrecision: number | null;
  edgeRecall: number | null;
  edgeF1Own: number | null;
  /** Σ RMS(Laplacian) of the model frames / Σ of the truth frames. */
  hfRatio: number | null;
  hfModel: number | null;
  hfTruth: number | null;
}

function sharpAgg(frames: readonly FrameMetrics[]): SharpAgg {
  const sel = frames.filter((f) => f.sharp);
  const n = sel.length;
  const m = (g: (f: NonNullable<FrameMetrics['sharp']>) => number): number | null => (n ? mean(sel.map((f) => g(f.sharp!))) : null);
  const hm = n ? sel.reduce((a, f) => a + f.sharp!.hfModel, 0) : 0;
  const ht = n ? sel.reduce((a, f) => a + f.sharp!.hfTruth, 0) : 0;
  return {
    frames: n,
    edgeF1: m((x) => x.f1),
    edgePrecision: m((x) => x.precision),
    edgeRecall: m((x) => x.recall),
    edgeF1Own: m((x) => x.f1Own),
    hfRatio: n && ht > 0 ? hm / ht : null,
    hfModel: n ? hm / n : null,
    hfTruth: n ? ht / n : null,
  };
}

/** Sharpness per truth prompt (and 'all') of some frames. */
function sharpByPrompt(frames: readonly FrameMetrics[]): Record<string, SharpAgg> {
  const out: Record<string, SharpAgg> = {};
  for (const [i, p] of PROMPTS.entries()) out[p] = sharpAgg(frames.filter((f) => f.prompt === i));
  out.all = sharpAgg(frames);
  return out;
}

/** One model frame of a character episode: what the truth shows, what the detector finds in the model's frame and in the truth's. */
interface CharacterFrame {
  k: number;
  prompt: number;
  truth: TruthCharacter[];
  model: FrameMatch;
  modelDetections: Detection[];
  truthMatch: FrameMatch;
}

interface EntryEvent {
  episode: number;
  color: number;
  /** The first truth frame it is visible in, and its block (blocks 1, 2, … of F frames after the opening). */
  truthFrame: number;
  block: number;
  /** At the episode's start (visible in its first block: the opening did not show it). */
  atStart: boolean;
  /** The first block ≥ `block` whose frames show it in the model's (found), while the truth still shows it; null if never. */
  modelBlock: number | null;
  withinOneBlock: boolean;
}

interface LeaveEvent {
  episode: number;
  color: number;
  /** The last truth frame it is visible in, and the block after which it is gone. */
  truthFrame: number;
  block: number;
  /** Model frames of the two blocks after `block` that still show a character of its colour. */
  lingeringFrames: number;
  goneWithinOneBlock: boolean;
}

/**
 * Entries and leaves of the characters of one episode (module comment, part 5), from its
 * frames in order (k = 1, 2, …; block of frame k = ⌈k / F⌉).
 */
function characterEvents(episode: number, frames: readonly CharacterFrame[], F: number): { entries: EntryEvent[]; leaves: LeaveEvent[] } {
  const blockOf = (k: number): number => Math.ceil(k / F);
  const nBlocks = frames.length ? blockOf(frames.at(-1)!.k) : 0;
  const colors = [...new Set(frames.flatMap((f) => f.truth.map((t) => t.color)))].filter((c) => c >= 0);
  const entries: EntryEvent[] = [];
  const leaves: LeaveEvent[] = [];
  for (const color of colors) {
    // per block: does the truth show it (in any frame), does the model (found in any frame), does the model show its colour at all
    const truthIn = new Array<boolean>(nBlocks + 2).fill(false);
    const foundIn = new Array<boolean>(nBlocks + 2).fill(false);
    const colourFrames = new Array<number>(nBlocks + 2).fill(0);
    const firstVisible = new Map<number, number>();
    const lastVisible = new Map<number, number>();
    for (const f of frames) {
      const b = blockOf(f.k);
      const t = f.truth.find((x) => x.color === color);
      if (t?.visible) {
        truthIn[b] = true;
        if (!firstVisible.has(b)) firstVisible.set(b, f.k);
        lastVisible.set(b, f.k);
        if (f.model.found.includes(t.index)) foundIn[b] = true;
      }
      if (f.modelDetections.some((d) => d.color === color)) colourFrames[b]!++;
    }
    for (let b = 1; b + 1 <= nBlocks; b++) {
      // an entry: absent in the block before (or the opening), present in this block and the next
      if (truthIn[b] && truthIn[b + 1] && (b === 1 || !truthIn[b - 1])) {
        let modelBlock: number | null = null;
        for (let c = b; c <= nBlocks && truthIn[c]; c++)
          if (foundIn[c]) {
            modelBlock = c;
            break;
          }
        entries.push({ episode, color, truthFrame: firstVisible.get(b)!, block: b, atStart: b === 1, modelBlock, withinOneBlock: modelBlock !== null && modelBlock - b <= 1 });
      }
      // a leave: present in this block, absent in the next two
      if (truthIn[b] && b + 2 <= nBlocks && !truthIn[b + 1] && !truthIn[b + 2]) {
        const lingering = colourFrames[b + 1]! + colourFrames[b + 2]!;
        leaves.push({ episode, color, truthFrame: lastVisible.get(b)!, block: b, lingeringFrames: lingering, goneWithinOneBlock: colourFrames[b + 2] === 0 });
      }
    }
  }
  return { entries, leaves };
}

const ratio = (n: number, d: number): number | null => (d ? n / d : null);

/** Byte colour of a CHARACTER_COLORS entry. */
const colorBytes = (i: number): [number, number, number] => CHARACTER_COLORS[i]!.map((v) => Math.round(v * 255)) as [number, number, number];

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

  const model = await loadModel(st.model, { threads: st.threads, weights: st.weights, decoderPrecision: st.decoderPrecision, denoisingSteps: st.denoisingSteps });
  try {
    const c = model.config;
    const F = c.num_frame_per_block;
    if (!c.action || !model.actionSpace) throw new Error(`${st.model} takes no actions; the eval needs the default world's action space`);
    const space = model.actionSpace; // config.json's, with the map its decoder takes per frame when it takes one
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
    const characterPlans = pickEpisodes(st.characterEpisodes, ID_BASE.characters, plan(frames(st.characterSeconds)), (p) => spawnOk(p) && p.switchAt === null);
    const all = [...horizonPlans, ...driftPlans, ...switchPlans, ...characterPlans];
    if (all.length === 0 && st.detectorScenes === 0) throw new Error('nothing to evaluate (--only with no parts, or zero episodes)');
    const missing = [...new Set(all.map((p) => `${PROMPTS[p.prompt0]}/${p.spawnIndex}`))].filter((n) => !model.openings.has(n));
    if (missing.length)
      throw new Error(
        `${st.model} has no opening ${missing.map((n) => `"${n}"`).join(', ')} (needed by episodes of seed ${st.seed} starting at those prompt/spawn pairs); ` +
          `it has ${[...model.openings.keys()].join(', ')}. Pass --spawns with the spawn indices it has to evaluate only those.`,
      );

    // Frame size: one warm-up block (not counted in the engine's frames/s).
    const first = all[0] ?? planEpisode(level, st.seed, 0, 4);
    const warm = model.createSession({ seed: 0, prompt: PROMPTS[first.prompt0], opening: `${PROMPTS[first.prompt0]}/${first.spawnIndex}` });
    const latent = { height: model.config.latent_height, width: model.config.latent_width };
    // a geometry decoder decodes the block with the maps of the spawn's view (where the opening stands)
    const warmMaps = poseInputs(spawnPose(level.spawns[first.spawnIndex]!), { ...space, pose: undefined, geometry: undefined }, { view: { level, latent } }).frameGeometry;
    const wb = await warm.step({ actions: new Float32Array(F * actionSize(space)), ...(warmMaps ? { frameGeometry: encodeFrameGeometry({ frameGeometry: warmMaps }, space, F) } : {}) });
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
      truth: (pose, characters) =>
        poseInputs(pose, { ...space, pose: st.pose ? space.pose : undefined, geometry: st.geometry ? space.geometry : undefined }, { view: { level, latent, characters } }),
      latent,
      engine: { frames: 0, stepSeconds: 0, engineSeconds: 0, decodeMs: 0, blocks: 0 },
    };
    log(
      `model ${st.model}: ${size}×${size} frames, ${F} per block, ${fps} fps; ${horizonPlans.length} episodes × ${st.seconds} s, drift ${st.driftSeconds} s, ` +
        `${switchPlans.length} switch episodes, ${characterPlans.length} character episodes × ${st.characterSeconds} s; seed ${st.seed}`,
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
    // character tallies per prompt: the detector on the model's frames and on the truth's
    const modelTally = new Map(PROMPTS.map((q) => [q, new DetectorTally()]));
    const truthTally = new Map(PROMPTS.map((q) => [q, new DetectorTally()]));
    const detectOpts = { level, colors: DETECT_COLORS };
    for (const [j, p] of horizonPlans.entries()) {
      const ep = await episode(level, st.seed, p, size);
      addTruth(ep);
      const capture = j === 0 ? [...stripSeconds, ...strip30Seconds].map((t) => Math.round(t * fps)) : [];
      // no characters in these episodes: every EMPTY_FRAME_STRIDE-th frame's detections are false ones
      const onFrame = (k: number, m: Uint8Array, t: Uint8Array): void => {
        if (!st.parts.has('characters') || k % EMPTY_FRAME_STRIDE !== 0) return;
        const q = PROMPTS[ep.prompts[k]!]!;
        const o = { ...detectOpts, pitch: episodePose(ep, k).pitch };
        modelTally.get(q)!.addEmpty(detectCharacters(m, size, size, q, o).length);
        truthTally.get(q)!.addEmpty(detectCharacters(t, size, size, q, o).length);
      };
      const r = await rollout(ctx, ep, 'horizon', { capture, sharpness: true, onFrame });
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
    const horizons = HORIZONS.filter((h) => horizonRuns.length > 0 && h <= st.seconds + 1e-9).map((h) => {
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
    const perSecond = Array.from({ length: horizonRuns.length ? Math.ceil(st.seconds - 1e-9) : 0 }, (_, i) => {
      const ws = horizonRuns.map((r) => window(r.frames, fps, i, i + 1)).filter((w) => w !== null);
      return { second: i + 1, model: meanPairs(ws.map((w) => w.model)), baseline: meanPairs(ws.map((w) => w.baseline)) };
    });
    const inWindow = (lo: number, hi: number) => (f: FrameMetrics) => f.k / fps > lo + 1e-9 && f.k / fps <= hi + 1e-9;
    const horizonFrames = horizonRuns.flatMap((r) => r.frames);
    const sharpHorizons = horizons.map((h) => ({ seconds: h.seconds, window: [h.seconds - 1, h.seconds], byPrompt: sharpByPrompt(horizonFrames.filter(inWindow(h.seconds - 1, h.seconds))) }));

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
    // 5. Characters: episodes with 0–3 walkers, the detector on the model's and the truth's frames.
    const entries: EntryEvent[] = [];
    const leaves: LeaveEvent[] = [];
    const characterRuns: { plan: EpisodePlan; others: ReturnType<typeof planOthers>; frames: FrameMetrics[] }[] = [];
    let stripsWithCharacters = 0;
    for (const [j, p] of characterPlans.entries()) {
      const ep = await generateEpisode(level, st.seed, p.id, p.frames, size, true);
      const perFrame: CharacterFrame[] = [];
      const kept = new Map<number, { truth: Uint8Array; model: Uint8Array }>();
      const r = await rollout(ctx, ep, 'characters', {
        sharpness: true,
        onFrame: (k, m, t) => {
          const q = PROMPTS[ep.prompts[k]!]!;
          const pose = episodePose(ep, k);
          const truth = viewTruth(level, eyeFromCharacter(pose), shapesAt(ep, k) ?? [], t, q, size, size);
          // the detector knows the frame's prompt, the level and the camera's pitch (what the model is given), never the truth's pixels
          const o = { ...detectOpts, pitch: pose.pitch };
          const modelDetections = detectCharacters(m, size, size, q, o);
          const f: CharacterFrame = { k, prompt: ep.prompts[k]!, truth, model: matchDetections(truth, modelDetections), modelDetections, truthMatch: matchDetections(truth, detectCharacters(t, size, size, q, o)) };
          perFrame.push(f);
          modelTally.get(q)!.add(f.model);
          truthTally.get(q)!.add(f.truthMatch);
          kept.set(k, { truth: Uint8Array.from(t), model: Uint8Array.from(m) });
        },
      });
      const ev = characterEvents(p.id, perFrame, F);
      entries.push(...ev.entries);
      leaves.push(...ev.leaves);
      characterRuns.push({ plan: p, others: ep.meta.others ?? [], frames: r.frames });
      // a strip of the first two episodes where a character enters the view (else walks in it): one column per block around it
      const entry = ev.entries.find((e) => !e.atStart) ?? ev.entries[0];
      if (entry && stripsWithCharacters < 2) {
        const nBlocks = blocksOf(ctx, p.frames);
        const b0 = Math.max(1, Math.min(entry.block - 2, nBlocks - 9));
        const cols = Array.from({ length: Math.min(10, nBlocks - b0 + 1) }, (_, i) => (b0 + i) * F); // the last frame of each block
        const rows: Uint8Array[][] = [[], [], []];
        for (const k of cols) {
          const f = perFrame.find((x) => x.k === k)!;
          const { truth, model } = kept.get(k)!;
          const t = Uint8Array.from(truth);
          const annotated = Uint8Array.from(model);
          for (const c of f.truth)
            if (c.visible && c.box) {
              drawBox(t, size, size, c.box, [255, 255, 255]);
              drawBox(annotated, size, size, c.box, [255, 255, 255]);
            }
          for (const d of f.modelDetections) drawBox(annotated, size, size, { x0: d.box.x0 - 1, y0: d.box.y0 - 1, x1: d.box.x1 + 1, y1: d.box.y1 + 1 }, colorBytes(d.color));
          rows[0]!.push(t);
          rows[1]!.push(Uint8Array.from(model));
          rows[2]!.push(annotated);
        }
        const path = join(st.out, `strip_characters${stripsWithCharacters ? `_${stripsWithCharacters + 1}` : ''}.png`);
        await writeFrameGrid(path, rows, size, size);
        strips.push(path);
        stripsWithCharacters++;
      }
      const visible = perFrame.reduce((a, f) => a + f.model.visible.length, 0);
      const found = perFrame.reduce((a, f) => a + f.model.found.length, 0);
      log(`character episode ${j + 1}/${characterPlans.length} (id ${p.id}, ${PROMPTS[p.prompt0]}, ${(ep.meta.others ?? []).length} walkers): model found ${found}/${visible} visible; ${since()}`);
    }
    const detectorScenes = st.detectorScenes > 0 ? detectorValidation(level, { scenes: st.detectorScenes, seed: st.seed, size }) : null;
    if (detectorScenes) log(`detector on ${st.detectorScenes} seeded truth scenes × ${PROMPTS.length} prompts: recall ${fmt(detectorScenes.all!.recall, 3)}; ${since()}`);
    // … and on the same scenes changed as another renderer changes a frame (its robustness: the model's frames are never exact)
    const robust = st.detectorScenes > 0 ? detectorRobustness(level, { scenes: st.detectorScenes, seed: st.seed, size, perturbations: PERTURBATIONS.filter((p) => p !== 'exact') }) : null;
    const detectorRobust = robust ? Object.fromEntries(Object.entries(robust).map(([p, r]) => [p, r.all!])) : null;
    if (detectorRobust) log(`detector on perturbed truth scenes: ${Object.entries(detectorRobust).map(([p, x]) => `${p} recall ${fmt(x.recall, 3)} false ${x.falseDetections}/${x.detections}`).join('; ')}; ${since()}`);

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

    // Sharpness and characters, summed up.
    const sharp = {
      definition:
        `edge F1: Sobel magnitude of the luma at or above the truth frame's ${EDGE_PERCENTILE}th percentile, the same threshold for the model frame (edgeF1Own: the model frame's own ${EDGE_PERCENTILE}th percentile), ` +
        'matched within 1 px (3×3) both ways, F1 = 2PR/(P+R), the mean over frames; hfRatio: Σ RMS of the 4-neighbour Laplacian of the luma over the model frames / Σ over the truth frames; per truth prompt',
      horizons: sharpHorizons,
      allHorizonFrames: sharpByPrompt(horizonFrames),
      characterEpisodes: characterRuns.length ? sharpByPrompt(characterRuns.flatMap((r) => r.frames)) : null,
    };
    const tallies = (m: Map<string, DetectorTally>): Record<string, DetectorScore> => {
      const out: Record<string, DetectorScore> = {};
      const all = new DetectorTally();
      for (const [q, t] of m) {
        out[q] = t.score();
        for (const k of ['frames', 'visible', 'found', 'detections', 'falseDetections', 'emptyFrames', 'emptyDetections'] as const) all[k] += t[k];
      }
      out.all = all.score();
      return out;
    };
    const entrySummary = (xs: EntryEvent[]) => ({
      events: xs.length,
      withinOneBlock: xs.filter((x) => x.withinOneBlock).length,
      rate: ratio(xs.filter((x) => x.withinOneBlock).length, xs.length),
      neverShown: xs.filter((x) => x.modelBlock === null).length,
    });
    const characters = st.parts.has('characters')
      ? {
          definition: {
            detector: `characters.ts detectCharacters: the model frame's pixels, with the frame's prompt (lighting), the level's materials and the camera's pitch; colours ${DETECT_COLORS.join(', ')}, groups of ≥ ${DETECT_MIN_PIXELS} px`,
            visible: `a truth character is visible when ≥ ${VISIBLE_MIN_PIXELS} pixels of its silhouette differ from the view without characters by ≥ ${VISIBLE_CONTRAST} (some channel)`,
            found: 'a detection of its colour with its centre inside its silhouette box',
            falseRate: 'detections with no character of their colour in the frame whose box holds their centre / all detections (frames of the character episodes)',
            emptyFrames: `every ${EMPTY_FRAME_STRIDE}th frame of the horizon episodes (no characters): each detection there is false`,
            entries: 'a character absent from the truth in the block before (or the opening) and visible in a block and the next enters there; it appears within one block when the model shows it (found) in that block or the next',
            leaves: 'a character visible in a block and absent from the truth in the next two leaves; it is gone within one block when no detection of its colour is in the second block after',
            detectorRobust: `(report.detectorRobust) the detector on the seeded truth scenes changed as another renderer changes a frame: ${PERTURBATIONS.filter((p) => p !== 'exact').join(', ')} (characters.ts perturbFrame)`,
          },
          episodes: characterRuns.map((r) => ({ ...describe(r.plan), walkers: r.others.map((o) => ({ kind: o.kind, color: o.color })) })),
          model: tallies(modelTally),
          detectorOnTruth: tallies(truthTally),
          entries: { entering: entrySummary(entries.filter((x) => !x.atStart)), atStart: entrySummary(entries.filter((x) => x.atStart)), events: entries },
          leaves: { events: leaves.length, goneWithinOneBlock: leaves.filter((x) => x.goneWithinOneBlock).length, rate: ratio(leaves.filter((x) => x.goneWithinOneBlock).length, leaves.length), list: leaves },
        }
      : null;

    // 6-7. Report.
    const wallSeconds = (performance.now() - wall0) / 1e3;
    const e = ctx.engine;
    const report = {
      version: 1,
      createdAt: new Date().toISOString(),
      model: { dir: resolve(st.model), info: model.info() },
      settings: { ...st, parts: [...st.parts], model: resolve(st.model), out: resolve(st.out), fps, frameSize: size, framesPerBlock: F, openingFrames, horizons: HORIZONS, switchEpisodeSeconds: SWITCH_EPISODE_SECONDS, denoisingSteps: model.config.denoising_step_list },
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
      episodes: { horizon: horizonPlans.map(describe), drift: driftPlans.map(describe), switch: switchPlans.map(describe), characters: characterPlans.map(describe) },
      horizons,
      perSecond,
      sharpness: sharp,
      drift,
      switches,
      characters,
      detectorScenes,
      detectorRobust,
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
    const pct = (x: number | null | undefined, d = 0): string => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(d)}%`);
    const sharpCell = (a: SharpAgg | undefined): string => (a && a.frames ? `${fmt(a.edgeF1)} / ${fmt(a.hfRatio)} (${a.frames})` : '—');
    if (sharp.horizons.length) {
      lines.push('');
      lines.push('sharpness: edge F1 vs truth / high-frequency energy ratio model÷truth (frames), per truth prompt');
      lines.push('window'.padEnd(14) + [...PROMPTS, 'all'].map((q) => q.padEnd(20)).join(''));
      for (const h of sharp.horizons) lines.push(`(${h.window[0]}, ${h.window[1]}] s`.padEnd(14) + [...PROMPTS, 'all'].map((q) => sharpCell(h.byPrompt[q]).padEnd(20)).join(''));
      lines.push('all frames'.padEnd(14) + [...PROMPTS, 'all'].map((q) => sharpCell(sharp.allHorizonFrames[q]).padEnd(20)).join(''));
      if (sharp.characterEpisodes) lines.push('char. episodes'.padEnd(14) + [...PROMPTS, 'all'].map((q) => sharpCell(sharp.characterEpisodes![q]).padEnd(20)).join(''));
      const own = sharp.allHorizonFrames.all!;
      lines.push(`(all frames: edge precision ${fmt(own.edgePrecision)}, recall ${fmt(own.edgeRecall)}; edge F1 with the model frame at its own ${EDGE_PERCENTILE}th percentile ${fmt(own.edgeF1Own)})`);
    }
    if (characters) {
      const c = characters;
      lines.push('');
      lines.push(`characters: ${c.episodes.length} held-out episodes × ${st.characterSeconds} s with ${c.episodes.reduce((a, x) => a + x.walkers.length, 0)} walkers in all; detector colours ${DETECT_COLORS.join(', ')}`);
      lines.push(`${'frames of'.padEnd(20)} visible  found  recall  detections  false  false rate  empty frames: detections`);
      const row = (name: string, x: DetectorScore | undefined): string =>
        x
          ? `${name.padEnd(20)} ${String(x.visible).padStart(7)}  ${String(x.found).padStart(5)}  ${pct(x.recall, 1).padStart(6)}  ${String(x.detections).padStart(10)}  ${String(x.falseDetections).padStart(5)}  ${pct(x.falseRate, 1).padStart(10)}  ${`${x.emptyFrames}: ${x.emptyDetections}`.padStart(10)}`
          : name;
      for (const q of [...PROMPTS, 'all']) lines.push(row(`model ${q}`, c.model[q]));
      for (const q of [...PROMPTS, 'all']) lines.push(row(`truth ${q}`, c.detectorOnTruth[q]));
      if (detectorScenes) for (const q of [...PROMPTS, 'all']) lines.push(row(`scenes ${q}`, detectorScenes[q]));
      if (detectorRobust) for (const [p, x] of Object.entries(detectorRobust)) lines.push(row(`scenes ${p}`, x));
      const en = c.entries.entering;
      const at = c.entries.atStart;
      lines.push(
        `entering the view: shown within one block ${en.withinOneBlock}/${en.events} (${pct(en.rate)}; never shown ${en.neverShown}); ` +
          `in view from the start: within one block ${at.withinOneBlock}/${at.events}; leaving: gone within one block ${c.leaves.goneWithinOneBlock}/${c.leaves.events}`,
      );
      lines.push('(truth = the detector on the truth frames: its validation; scenes = seeded truth scenes, characters.ts detectorValidation, exact and perturbed: detectorRobustness)');
    } else if (detectorScenes) {
      lines.push('');
      lines.push(`detector on ${st.detectorScenes} seeded truth scenes: ${Object.entries(detectorScenes).map(([q, x]) => `${q} ${x.found}/${x.visible}, false ${x.falseDetections}, empty ${x.emptyDetections}/${x.emptyFrames}`).join('; ')}`);
      if (detectorRobust) lines.push(`… perturbed: ${Object.entries(detectorRobust).map(([p, x]) => `${p} ${x.found}/${x.visible}, false ${x.falseDetections}, empty ${x.emptyDetections}/${x.emptyFrames}`).join('; ')}`);
    }
    if (events.length || st.parts.has('switches')) {
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
    }
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

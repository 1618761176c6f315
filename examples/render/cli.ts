#!/usr/bin/env node
/**
 * Headless rendering: `npx worldcast render --model DIR [--actions script.json] [--blocks N] --out OUT`.
 *
 * Runs one session for N blocks and writes its decoded frames as an animated WebP (.webp),
 * PNG frames (a directory, or a path ending in /), or a video (.mp4/.webm, through ffmpeg
 * when it is installed). Progress goes to stderr.
 *
 * The decoder is the model's own, by the one rule every entry point uses (`loadModel` →
 * `modelDecoderDir`: config.json's `"decoder"`, else `<model>/decoder`); `--decoder DIR`
 * overrides it. Rendering needs pixels, so a model without one (or `--decoder none`) is an error.
 *
 * The action script is a JSON array of held inputs `{"keys": ["w"], "mouse": {"dx": 0.2}}`,
 * entry b held for block b (one block of world time = `num_frame_per_block` latent frames),
 * the last entry repeated for later blocks (no script: nothing held). For a model that takes
 * the character's pose or the level's geometry map (config.json `action.pose` / `.geometry`,
 * as the default world does, or whose decoder takes the map: the decoder's map of each frame
 * is drawn from the same pose), the entries drive a character through the level exactly as the
 * game server's room drives a player (world/src/driver.ts): keys are held down and a mouse
 * value turns the character at that fraction of its largest turn rate, tick by tick through
 * rapier, and each latent frame is conditioned on the motion physics allowed (walking into a
 * wall conditions as standing still), the pose and the map seen from it. The session starts
 * from the model's opening `'<prompt>/<spawn>'` when it ships one, as rooms do. For other
 * models an entry is the action input of every frame of its block.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import sharp from 'sharp';

import { ArgumentError, ConfigError, loadModel, readSafetensors, TablePromptEncoder, type ActionInput, type Model, type Pose, type Prompt } from '../../sdk/src/index.js';
import { checkHeldInput, WorldDriver, type HeldInput } from '../../world/src/driver.js';
import { defaultLevel, loadLevelFile, type Level } from '../../world/src/levels/index.js';

export const usage = `usage: worldcast render --model DIR [--decoder DIR] [--prompt TEXT | --prompt-file F.safetensors]
                        [--actions script.json] [--blocks N] [--seed S] [--fps F] [--threads T]
                        [--spawn N] [--level FILE] [--no-opening]
                        [--out out.webp | out.mp4 | out.webm | frames/]
  --actions     JSON array of held inputs, one per block of world time ({"keys": ["w"], "mouse": {"dx": 0.2}});
                the last repeats. For a model that takes the pose or the geometry map (the default world) they
                move a character through the level as the game server does: keys held, mouse values turn at
                that fraction of the largest turn rate, frames conditioned on the motion physics allowed
  --decoder     decoder directory (default: the model's own, config.json "decoder" or <model>/decoder)
  --prompt      text prompt (default for a world model: the first of its vocabulary)
  --spawn       world models: spawn point index of the level (default 0)
  --level       world models: a level JSON file (default: the default world's yard)
  --no-opening  world models: do not start from the model's opening '<prompt>/<spawn>'`;

/** Misuse of the command line; `exitCode` 0 for --help. */
export class UsageError extends ArgumentError {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message, 'ARGUMENT');
  }
}

/** What `render` does (`parseRenderArgs` of a command line, or built by a caller). */
export interface RenderArgs {
  model: string;
  /** A decoder directory, or 'none' (an error: rendering needs pixels); default the model's own. */
  decoder?: string;
  prompt?: string;
  promptFile?: string;
  /** Path of the action script. */
  actions?: string;
  blocks: number;
  seed: number;
  fps: number;
  threads?: number;
  out: string;
  /** World models: spawn point index (default 0). */
  spawn?: number;
  /** World models: level JSON file (default the default world's yard). */
  level?: string;
  /** World models: start from the model's opening '<prompt>/<spawn>' when it ships one (default true). */
  opening?: boolean;
  /** Report progress on stderr (default true). */
  progress?: boolean;
}

/** What `render` made. */
export interface RenderResult {
  /** Frames written. */
  frames: number;
  width: number;
  height: number;
  /** The frames, HWC RGB. */
  images: Buffer[];
  /** World models: the character's pose at the end of each latent frame rendered (null for others). */
  poses: Pose[] | null;
  /** World models: the spawn point. */
  spawn: number | null;
  /** World models: the level driven through. */
  level: Level | null;
  /** The text prompt in force (null for none or an embedding file). */
  prompt: string | null;
  /** The opening the session started from, if any. */
  opening: string | null;
}

/** Parse `render …` arguments; throws a UsageError naming the problem. */
export function parseRenderArgs(argv: string[]): RenderArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        model: { type: 'string' },
        decoder: { type: 'string' },
        prompt: { type: 'string' },
        'prompt-file': { type: 'string' },
        actions: { type: 'string' },
        blocks: { type: 'string', default: '8' },
        seed: { type: 'string', default: '0' },
        fps: { type: 'string', default: '16' },
        threads: { type: 'string' },
        out: { type: 'string', default: 'out.webp' },
        spawn: { type: 'string' },
        level: { type: 'string' },
        'no-opening': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) throw new UsageError('', 0);
  if (positionals[0] !== 'render') throw new UsageError(positionals.length ? `unknown command "${positionals[0]}"` : 'no command');
  if (!values.model) throw new UsageError('--model DIR is required');
  if (values.prompt !== undefined && values['prompt-file'] !== undefined) throw new UsageError('give --prompt or --prompt-file, not both');
  const int = (name: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (v === undefined || v.trim() === '' || !Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}`);
    return n;
  };
  return {
    model: values.model,
    decoder: values.decoder,
    prompt: values.prompt,
    promptFile: values['prompt-file'],
    actions: values.actions,
    blocks: int('blocks', values.blocks, 1),
    seed: int('seed', values.seed, 0),
    fps: int('fps', values.fps, 1),
    threads: values.threads === undefined ? undefined : int('threads', values.threads, 1),
    out: values.out!,
    spawn: values.spawn === undefined ? undefined : int('spawn', values.spawn, 0),
    level: values.level,
    opening: !values['no-opening'],
  };
}

function progress(done: number, total: number, frames: number, t0: number): void {
  if (!process.stderr.isTTY && done !== total) return;
  const width = 30;
  const filled = Math.round((done / total) * width);
  const fps = frames / ((performance.now() - t0) / 1e3);
  process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} blocks, ${frames} frames, ${fps.toFixed(1)} frames/s${done === total ? '\n' : ''}`);
}

/** The action script: a JSON array of held inputs, each checked against the model's action space. */
function readScript(path: string | undefined, model: Model): HeldInput[] {
  if (path === undefined) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ArgumentError(`--actions ${path}: ${(e as Error).message}`, 'ARGUMENT');
  }
  if (!Array.isArray(raw)) throw new ArgumentError(`--actions ${path} must hold a JSON array of per-block held inputs ({"keys": [...], "mouse": {...}})`, 'ARGUMENT');
  const space = model.config.action;
  if (!space) {
    if (raw.length) throw new ArgumentError(`--actions: this model takes no actions (config.json has no "action")`, 'ARGUMENT');
    return [];
  }
  return raw.map((e, i) => checkHeldInput(e, space, `--actions ${path}: entry ${i}`));
}

/** The prompt: --prompt, --prompt-file, or (world models) the first of the model's vocabulary. */
function promptOf(args: RenderArgs, model: Model, world: boolean): { prompt: Prompt | undefined; text: string | null } {
  if (args.promptFile) {
    const t = [...readSafetensors(args.promptFile).tensors.values()][0];
    if (!t) throw new ArgumentError(`${args.promptFile} holds no tensor`, 'ARGUMENT');
    return { prompt: t.data as Float32Array, text: null };
  }
  if (args.prompt !== undefined) return { prompt: args.prompt, text: args.prompt };
  const enc = model.promptEncoder;
  const first = world && enc instanceof TablePromptEncoder ? enc.prompts[0] : undefined;
  return { prompt: first, text: first ?? null };
}

/** Render; returns the frames (also written to `args.out`) and, for world models, the poses they show. */
export async function render(args: RenderArgs): Promise<RenderResult> {
  if (args.decoder === 'none') throw new ArgumentError('render writes pixels: --decoder none leaves the model without a decoder; give a decoder directory or leave --decoder out to use the model\'s own', 'ARGUMENT');
  const model = await loadModel(args.model, { threads: args.threads, ...(args.decoder !== undefined ? { decoder: args.decoder } : {}) });
  let driver: WorldDriver | null = null;
  try {
    if (!model.decoder)
      throw new ConfigError(`${args.model}: this model names no decoder: pass --decoder DIR (its config.json has no "decoder" and it has no decoder/ directory)`, 'CONFIG');
    const c = model.config;
    const space = model.actionSpace; // with the map its decoder takes per frame, when it takes one
    // a model that takes the pose or a geometry map (its DiT's, or its decoder's) drives a character
    const world = !!space && !!(space.pose || space.geometry || space.frameGeometry);
    if (!world && (args.spawn !== undefined || args.level !== undefined || args.opening === false))
      throw new ArgumentError(`--spawn, --level and --no-opening drive a character through a level: ${args.model} takes no pose or geometry map (config.json action.pose / action.geometry)`, 'ARGUMENT');
    const script = readScript(args.actions, model);
    const { prompt, text } = promptOf(args, model, world);
    let opening: string | null = null;
    let openingActions: ActionInput | undefined;
    if (world) {
      const level = args.level !== undefined ? loadLevelFile(args.level) : defaultLevel;
      driver = await WorldDriver.create(space!, c.latent_fps > 0 ? c.latent_fps : 15, c.num_frame_per_block, {
        level,
        spawn: args.spawn ?? 0,
        latent: { height: c.latent_height, width: c.latent_width },
      });
      // The room's opening rule (gameserver/src/room.ts openingFor): '<prompt>/<spawn>' when the model ships it.
      const name = text !== null ? `${text.trim().toLowerCase()}/${driver.spawn}` : null;
      if (args.opening !== false && name !== null && model.openings.has(name)) opening = name;
      openingActions = opening ? driver.openingActions() : undefined;
      if (args.progress !== false)
        process.stderr.write(`world: level "${level.name}", spawn ${driver.spawn}, prompt ${text ?? '(none)'}, ${opening ? `opening ${opening}` : 'no opening'}\n`);
    }
    const session = model.createSession({ seed: args.seed, ...(prompt !== undefined ? { prompt } : {}), ...(opening ? { opening, openingActions } : {}) });
    const images: Buffer[] = [];
    const poses: Pose[] | null = driver ? [] : null;
    let width = 0;
    let height = 0;
    const t0 = performance.now();
    try {
      for (let b = 0; b < args.blocks; b++) {
        const held: HeldInput | undefined = script.length ? script[Math.min(b, script.length - 1)] : undefined;
        let actions: ActionInput | ActionInput[] | undefined;
        if (driver) {
          const d = driver.block(held ?? {});
          actions = d.inputs;
          poses!.push(...d.poses);
        } else {
          actions = held ? { keys: held.keys, mouse: held.mouse ? { ...held.mouse } : undefined } : undefined;
        }
        const block = await session.step({ actions });
        for (const f of block.images) {
          width = f.width;
          height = f.height;
          images.push(f.rgb);
        }
        if (args.progress !== false) progress(b + 1, args.blocks, images.length, t0);
      }
    } finally {
      await session.close();
    }
    if (images.length === 0) throw new Error(`the decoder gave no frames in ${args.blocks} block(s)`);
    await write(args, images, width, height);
    return { frames: images.length, width, height, images, poses, spawn: driver?.spawn ?? null, level: driver?.level ?? null, prompt: text, opening };
  } finally {
    driver?.free();
    model.close();
  }
}

async function write(args: RenderArgs, frames: Buffer[], width: number, height: number): Promise<void> {
  const out = args.out;
  const ext = extname(out).toLowerCase();
  const raw = { width, height, channels: 3 as const };
  if (out.endsWith('/') || (existsSync(out) && !ext)) {
    mkdirSync(out, { recursive: true });
    await Promise.all(frames.map((f, i) => sharp(f, { raw }).png().toFile(join(out, `frame_${String(i).padStart(5, '0')}.png`))));
  } else if (ext === '.webp') {
    mkdirSync(dirname(resolve(out)), { recursive: true });
    const all = Buffer.concat(frames);
    await sharp(all, { raw: { ...raw, height: height * frames.length, pageHeight: height } })
      .webp({ loop: 0, delay: Array(frames.length).fill(Math.round(1000 / args.fps)), lossless: true })
      .toFile(out);
  } else if (ext === '.mp4' || ext === '.webm') {
    if (spawnSync('ffmpeg', ['-version']).status !== 0) throw new Error(`writing ${ext} needs ffmpeg on this machine (apt-get install ffmpeg), or use .webp / a directory`);
    await new Promise<void>((res, rej) => {
      const p = spawn('ffmpeg', ['-y', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(args.fps), '-i', '-', ...(ext === '.mp4' ? ['-pix_fmt', 'yuv420p'] : []), out], { stdio: ['pipe', 'inherit', 'inherit'] });
      p.on('error', rej);
      p.on('close', (code) => (code === 0 ? res() : rej(new Error(`ffmpeg exited with ${code}`))));
      for (const f of frames) p.stdin.write(f);
      p.stdin.end();
    });
  } else {
    throw new Error(`unknown output "${out}": use .webp, .mp4, .webm or a directory ending in /`);
  }
}

const isMain = !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (isMain) {
  let args: RenderArgs;
  try {
    args = parseRenderArgs(process.argv.slice(2));
  } catch (e) {
    const u = e instanceof UsageError ? e : null;
    if (u?.message) console.error(`worldcast render: ${u.message}`);
    console.error(usage);
    process.exit(u ? u.exitCode : 2);
  }
  render(args)
    .then((r) => console.error(`wrote ${r.frames} frames`))
    .catch((e: unknown) => {
      console.error(`worldcast render: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    });
}

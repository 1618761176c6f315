#!/usr/bin/env node
/**
 * Headless rendering: `npx worldcast render [--model DIR] [--decoder DIR] --blocks N --out OUT`
 * (the model defaults to the package's default world model).
 * Runs a session for N blocks with scripted actions and a prompt, decodes every block and
 * writes an animated WebP (.webp), PNG frames (a directory, or a path ending in /), or a
 * video (.mp4/.webm, through ffmpeg when it is installed). Progress goes to stderr.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import sharp from 'sharp';

import { defaultModelDir, loadDecoder, loadModel, modelDecoderDir, readSafetensors, type ActionInput } from '../../sdk/src/index.js';

const usage = `usage: worldcast render [--model DIR] [--decoder DIR] [--prompt TEXT | --prompt-file F.safetensors]
                        [--actions script.json] [--blocks N] [--seed S] [--fps F] [--threads T]
                        [--out out.webp | out.mp4 | out.webm | frames/]
  --actions  JSON array of per-block actions ({"keys": ["w"], "mouse": {"dx": 0.2}}); the last repeats
  --model    model directory (default: the package's default world model, models/default)
  --decoder  TAEHV decoder directory (default: the model's own: config.json "decoder", or its decoder/ folder)`;

interface Args {
  model: string;
  decoder?: string;
  prompt?: string;
  promptFile?: string;
  actions?: string;
  blocks: number;
  seed: number;
  fps: number;
  threads?: number;
  out: string;
}

function parse(argv: string[]): Args {
  const { values, positionals } = parseArgs({
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
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals[0] !== 'render') {
    console.error(usage);
    process.exit(values.help ? 0 : 2);
  }
  const int = (name: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  return {
    model: values.model ?? defaultModelDir(),
    decoder: values.decoder,
    prompt: values.prompt,
    promptFile: values['prompt-file'],
    actions: values.actions,
    blocks: int('blocks', values.blocks, 1),
    seed: int('seed', values.seed, 0),
    fps: int('fps', values.fps, 1),
    threads: values.threads === undefined ? undefined : int('threads', values.threads, 1),
    out: values.out!,
  };
}

function progress(done: number, total: number, frames: number, t0: number): void {
  if (!process.stderr.isTTY && done !== total) return;
  const width = 30;
  const filled = Math.round((done / total) * width);
  const fps = frames / ((performance.now() - t0) / 1e3);
  process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} blocks, ${frames} frames, ${fps.toFixed(1)} frames/s${done === total ? '\n' : ''}`);
}

/** Render; returns the number of frames written. */
export async function render(args: Args): Promise<number> {
  const model = await loadModel(args.model, { threads: args.threads });
  // The model's own decoder by the SDK's one rule (config "decoder" as a path or { path }, else decoder/).
  const decoderDir = args.decoder ?? modelDecoderDir(args.model, model.config) ?? undefined;
  if (!decoderDir) throw new Error('this model names no decoder: pass --decoder DIR');
  const decoder = await loadDecoder(decoderDir, { threads: args.threads });
  const script: ActionInput[] = args.actions ? (JSON.parse(readFileSync(args.actions, 'utf8')) as ActionInput[]) : [];
  if (!Array.isArray(script)) throw new Error('--actions must be a JSON array of per-block actions');
  const session = model.createSession({ seed: args.seed });
  if (args.promptFile) {
    const t = [...readSafetensors(args.promptFile).tensors.values()][0];
    if (!t) throw new Error(`${args.promptFile} holds no tensor`);
    await session.setPrompt(t.data);
  } else if (args.prompt !== undefined) {
    await session.setPrompt(args.prompt);
  }
  const stream = decoder.createStream();
  const frames: Buffer[] = [];
  let width = 0, height = 0;
  const t0 = performance.now();
  for (let b = 0; b < args.blocks; b++) {
    const actions = script.length ? script[Math.min(b, script.length - 1)] : undefined;
    const block = await session.step({ actions });
    const d = await stream.decodeBlock(block);
    width = d.width;
    height = d.height;
    frames.push(...d.frames);
    progress(b + 1, args.blocks, frames.length, t0);
  }
  await session.close();
  stream.close?.();
  model.close();
  await write(args, frames, width, height);
  return frames.length;
}

async function write(args: Args, frames: Buffer[], width: number, height: number): Promise<void> {
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
  render(parse(process.argv.slice(2)))
    .then((n) => console.error(`wrote ${n} frames`))
    .catch((e: unknown) => {
      console.error(`worldcast render: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    });
}

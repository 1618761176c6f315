/**
 * LV-Bench-style manifests: long videos with timed captions.
 *
 * LV-Bench (BlockVid; shipped in alibaba-damo-academy/Inferix, LV-Bench/) is 1,000 minute-long
 * videos captioned every 2–3 s, split 80/20 into train and eval. Its release does not publish a
 * manifest schema (its README's dataset section reads "TODO"), so worldcast reads this one, a
 * JSON object (or a bare array of videos, or JSON Lines with one video per line):
 *
 * ```json
 * { "name": "sample", "videos": [
 *   { "video_id": "yard-day-walk", "duration": 24, "split": "eval", "seed": 11, "opening": "day/0",
 *     "captions": [ { "start": 0, "end": 2.5, "text": "day" }, { "start": 2.5, "end": 5, "text": "day" } ],
 *     "actions": [ { "start": 0, "end": 3, "keys": ["w"], "mouse": { "dx": 0.2 } } ] } ] }
 * ```
 *
 * Required per video: `video_id` (or `id`), `duration` (seconds, > 0), `captions` (at least one:
 * `start`, `end` in seconds with start < end, `text` (or `caption`)). Optional: `split`
 * ('train' | 'eval'), `seed` (the session's noise seed and the scripted actions' seed; default a
 * hash of the id), `opening` (the name of one of the model's openings to start from), `actions`
 * (timed `{start, end, keys, mouse}` segments; a video without them gets the scripted sequence
 * of tools/lvbench/actions.ts). Times are seconds of the generated video (frame k at k / fps).
 */
import { readFileSync } from 'node:fs';

/** A caption in force from `start` (inclusive) to `end` (exclusive) seconds. */
export interface Caption {
  start: number;
  end: number;
  text: string;
}

/** One action held from `start` to `end` seconds. */
export interface ActionSegment {
  start: number;
  end: number;
  keys: string[];
  mouse: Record<string, number>;
}

/** One video of a manifest. */
export interface VideoSpec {
  id: string;
  duration: number;
  split: 'train' | 'eval' | null;
  seed: number;
  opening: string | null;
  captions: Caption[];
  actions: ActionSegment[] | null;
}

/** A parsed manifest. */
export interface Manifest {
  name: string;
  videos: VideoSpec[];
}

/** A manifest that does not follow the format; the message names the file, video and field. */
export class ManifestError extends Error {
  override name = 'ManifestError';
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** FNV-1a of a string: the default seed of a video (stable across runs and machines). */
export function hashSeed(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

function num(v: unknown, where: string, field: string, { min, integer = false, inclusive = true }: { min?: number; integer?: boolean; inclusive?: boolean } = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ManifestError(`${where}: "${field}" must be a finite number (got ${JSON.stringify(v)})`);
  if (integer && !Number.isInteger(v)) throw new ManifestError(`${where}: "${field}" must be a whole number (got ${v})`);
  if (min !== undefined && (inclusive ? v < min : v <= min)) throw new ManifestError(`${where}: "${field}" must be ${inclusive ? '≥' : '>'} ${min} (got ${v})`);
  return v;
}

function str(v: unknown, where: string, field: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw new ManifestError(`${where}: "${field}" must be a non-empty string (got ${JSON.stringify(v)})`);
  return v;
}

function interval(o: Json, where: string): { start: number; end: number } {
  const start = num(o.start, where, 'start', { min: 0 });
  const end = num(o.end, where, 'end');
  if (!(end > start)) throw new ManifestError(`${where}: "end" (${end}) must be after "start" (${start})`);
  return { start, end };
}

function parseCaption(c: unknown, where: string): Caption {
  if (!isObject(c)) throw new ManifestError(`${where}: a caption must be an object {start, end, text}`);
  const text = c.text ?? c.caption;
  return { ...interval(c, where), text: str(text, where, 'text') };
}

function parseAction(a: unknown, where: string): ActionSegment {
  if (!isObject(a)) throw new ManifestError(`${where}: an action must be an object {start, end, keys, mouse}`);
  const keys = a.keys ?? [];
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) throw new ManifestError(`${where}: "keys" must be an array of key names`);
  const mouse = a.mouse ?? {};
  if (!isObject(mouse)) throw new ManifestError(`${where}: "mouse" must be an object of axis values, e.g. {"dx": 0.2}`);
  const m: Record<string, number> = {};
  for (const [k, v] of Object.entries(mouse)) m[k] = num(v, where, `mouse.${k}`);
  return { ...interval(a, where), keys: keys as string[], mouse: m };
}

function parseVideo(v: unknown, where: string): VideoSpec {
  if (!isObject(v)) throw new ManifestError(`${where}: a video must be an object`);
  const id = str(v.video_id ?? v.id, where, 'video_id');
  const w = `${where} ("${id}")`;
  const duration = num(v.duration, w, 'duration', { min: 0, inclusive: false });
  if (!Array.isArray(v.captions) || v.captions.length === 0) throw new ManifestError(`${w}: "captions" must be a non-empty array of {start, end, text}`);
  const captions = v.captions.map((c, i) => parseCaption(c, `${w} caption ${i}`)).sort((a, b) => a.start - b.start);
  for (let i = 1; i < captions.length; i++)
    if (captions[i]!.start < captions[i - 1]!.end - 1e-9)
      throw new ManifestError(`${w}: captions overlap ("${captions[i - 1]!.text}" until ${captions[i - 1]!.end} s, "${captions[i]!.text}" from ${captions[i]!.start} s)`);
  if (captions[0]!.start >= duration) throw new ManifestError(`${w}: the first caption starts at ${captions[0]!.start} s, after the video's ${duration} s`);
  let actions: ActionSegment[] | null = null;
  if (v.actions !== undefined && v.actions !== null) {
    if (!Array.isArray(v.actions)) throw new ManifestError(`${w}: "actions" must be an array of {start, end, keys, mouse}`);
    actions = v.actions.map((a, i) => parseAction(a, `${w} action ${i}`)).sort((a, b) => a.start - b.start);
  }
  const split = v.split ?? null;
  if (split !== null && split !== 'train' && split !== 'eval') throw new ManifestError(`${w}: "split" must be "train" or "eval" (got ${JSON.stringify(split)})`);
  return {
    id,
    duration,
    split,
    seed: v.seed === undefined ? hashSeed(id) : num(v.seed, w, 'seed', { min: 0, integer: true }),
    opening: v.opening === undefined || v.opening === null ? null : str(v.opening, w, 'opening'),
    captions,
    actions,
  };
}

/** Parses manifest text (JSON or JSON Lines); `source` names it in errors. */
export function parseManifest(text: string, source = 'manifest'): Manifest {
  let root: unknown;
  const trimmed = text.trim();
  if (trimmed === '') throw new ManifestError(`${source}: empty manifest`);
  try {
    root = JSON.parse(trimmed);
  } catch (e) {
    // JSON Lines: one video per line.
    const lines = trimmed.split('\n').filter((l) => l.trim() !== '');
    if (lines.length < 2) throw new ManifestError(`${source}: not JSON (${(e as Error).message})`);
    root = lines.map((l, i) => {
      try {
        return JSON.parse(l) as unknown;
      } catch (e2) {
        throw new ManifestError(`${source} line ${i + 1}: not JSON (${(e2 as Error).message})`);
      }
    });
  }
  const list = Array.isArray(root) ? root : isObject(root) ? root.videos : undefined;
  if (!Array.isArray(list)) throw new ManifestError(`${source}: expected {"videos": [...]}, an array of videos or JSON Lines`);
  if (list.length === 0) throw new ManifestError(`${source}: no videos`);
  const videos = list.map((v, i) => parseVideo(v, `${source} video ${i}`));
  const seen = new Set<string>();
  for (const v of videos) {
    if (seen.has(v.id)) throw new ManifestError(`${source}: video id "${v.id}" appears twice`);
    if (!/^[A-Za-z0-9._-]+$/.test(v.id)) throw new ManifestError(`${source}: video id "${v.id}" must be letters, digits, '.', '_' or '-' (it names folders)`);
    seen.add(v.id);
  }
  const name = isObject(root) && typeof root.name === 'string' ? root.name : source.replace(/^.*\//, '').replace(/\.(json|jsonl)$/, '');
  return { name, videos };
}

/** Reads and parses a manifest file. */
export function readManifest(path: string): Manifest {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ManifestError(`cannot read manifest ${path}: ${(e as Error).message}`);
  }
  return parseManifest(text, path);
}

/**
 * The caption in force at `t` seconds: the one whose [start, end) holds t; in a gap, the last
 * one that started before t (held); before the first caption, the first caption.
 */
export function captionAt(captions: readonly Caption[], t: number): Caption {
  let cur = captions[0]!;
  for (const c of captions) {
    if (c.start <= t + 1e-9) cur = c;
    else break;
  }
  return cur;
}

/** The action segment in force at `t` seconds, or null in a gap / after the last one (no keys, no mouse). */
export function actionAt(actions: readonly ActionSegment[], t: number): ActionSegment | null {
  for (const a of actions) if (a.start <= t + 1e-9 && t < a.end - 1e-9) return a;
  return null;
}

/**
 * The scorers `--scorers` can name. Built in, with no weights: `clarity`, `motion`, `subject`,
 * `background`. `aesthetic` (and any other name) only through a user-supplied ONNX model in the
 * scorers file (onnx.ts); a scorers-file entry with a built-in's name replaces the built-in (to
 * run the real MUSIQ / DINO / CLIP).
 */
import { readFileSync } from 'node:fs';

import { clarityScorer } from './clarity.js';
import { backgroundScorer, subjectScorer } from './consistency.js';
import { motionScorer } from './motion.js';
import { checkOnnxSpec, onnxScorer, type OnnxScorerSpec } from './onnx.js';
import type { Scorer } from './scorer.js';

export type { Chunk, Scorer } from './scorer.js';

export const BUILTIN_SCORERS: Readonly<Record<string, () => Scorer>> = {
  clarity: clarityScorer,
  motion: motionScorer,
  subject: subjectScorer,
  background: backgroundScorer,
};

/** The default `--scorers`. */
export const DEFAULT_SCORERS = ['clarity', 'motion', 'subject', 'background'];

/** Parses a scorers file: `{ "onnx": [spec, …] }`. */
export function parseScorersFile(text: string, source = 'scorers file'): OnnxScorerSpec[] {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not JSON (${(e as Error).message})`);
  }
  const list = typeof root === 'object' && root !== null && !Array.isArray(root) ? (root as { onnx?: unknown }).onnx : undefined;
  if (!Array.isArray(list)) throw new Error(`${source}: expected { "onnx": [ { name, model, kind, … } ] }`);
  const specs = list.map((v, i) => checkOnnxSpec(v, `${source} onnx[${i}]`));
  const names = new Set<string>();
  for (const s of specs) {
    if (names.has(s.name)) throw new Error(`${source}: scorer "${s.name}" appears twice`);
    names.add(s.name);
  }
  return specs;
}

export function readScorersFile(path: string): OnnxScorerSpec[] {
  return parseScorersFile(readFileSync(path, 'utf8'), path);
}

/** The scorers for `names`, from the ONNX specs first, then the built-ins. */
export function createScorers(names: readonly string[], onnx: readonly OnnxScorerSpec[] = []): Scorer[] {
  if (names.length === 0) throw new Error('--scorers: no scorers given');
  const seen = new Set<string>();
  return names.map((n) => {
    if (seen.has(n)) throw new Error(`--scorers: "${n}" appears twice`);
    seen.add(n);
    const spec = onnx.find((s) => s.name === n);
    if (spec) return onnxScorer(spec);
    const make = BUILTIN_SCORERS[n];
    if (make) return make();
    if (n === 'aesthetic')
      throw new Error(
        'the aesthetic scorer needs a user-supplied model (LAION aesthetic predictor on CLIP ViT-L/14, exported to ONNX): add { "name": "aesthetic", "model": "….onnx", "kind": "frame", "size": 224, "crop": true, "mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711], "scale": 0.1 } to a --scorers-file',
      );
    throw new Error(`unknown scorer "${n}": built in are ${Object.keys(BUILTIN_SCORERS).join(', ')}; others (aesthetic, …) come from a --scorers-file`);
  });
}

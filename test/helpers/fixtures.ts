import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { readSafetensors, type Tensor } from '../../sdk/src/safetensors.js';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fixtures = join(root, 'test', 'fixtures');
export const tinyDir = join(fixtures, 'tiny');

export interface GoldenBlock {
  prompt: number;
  steps: number;
  probe: boolean;
  frame_start: number;
  /** Latent frames of the block (absent in old fixtures: the case's block size). */
  frames?: number;
  attended_frames: number[];
  /** The frames the reference's cache holds before the block (what a block of the session's smallest size could attend to). */
  held_frames?: number[];
  zero_actions: boolean;
}

export interface GoldenCase {
  name: string;
  file: string;
  local_attn_size: number;
  sink_size: number;
  /** Frames per block when the case runs the model with the `blockFrames` load option (null: the config's). */
  block_frames?: number | null;
  /** A case of several block sizes: each block's frames, in one session of the config's blocks (minBlockFrames = the smallest). */
  block_sizes?: number[] | null;
  num_blocks: number;
  blocks: GoldenBlock[];
}

export interface GoldenCases {
  schedule: { steps: number[]; sigmas: number[] };
  probe_t: number[];
  cases: GoldenCase[];
}

export function goldenCases(): GoldenCases {
  return JSON.parse(readFileSync(join(fixtures, 'golden', 'cases.json'), 'utf8')) as GoldenCases;
}

export function goldenTensors(c: GoldenCase): Map<string, Tensor> {
  return readSafetensors(join(fixtures, 'golden', c.file)).tensors;
}

export function tensor(m: Map<string, Tensor>, name: string): Float32Array {
  const t = m.get(name);
  if (!t) throw new Error(`fixture tensor ${name} missing`);
  return t.data;
}

/** max |a-b| / max |b| — the error relative to the reference's scale. */
export function relErr(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return den === 0 ? num : num / den;
}

/** Deterministic pseudo-random floats in [-1, 1) (mulberry32). */
export function randoms(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/**
 * Prompts. The model takes a prompt as an embedding [rows × text_dim] (upstream: the T5
 * encoder's output, rows past the prompt's length zero). A string prompt is resolved by
 * a {@link PromptEncoder}; a model directory may ship one as `prompts.safetensors`
 * (one tensor per known prompt, named by its text), which {@link TablePromptEncoder} reads.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { ArgumentError } from './errors.js';
import { readSafetensors } from './safetensors.js';

/** Turns prompt text into the embedding a model takes. */
export interface PromptEncoder {
  /** Embedding [rows × textDim] with rows <= textLen. */
  encode(text: string): Float32Array | Promise<Float32Array>;
}

/** A prompt: text (resolved by the model's encoder) or a precomputed embedding. */
export type Prompt = string | Float32Array;

/** A fixed table of prompts (a closed vocabulary, as a small world model has). */
export class TablePromptEncoder implements PromptEncoder {
  readonly #table: Map<string, Float32Array>;
  constructor(table: Map<string, Float32Array>) {
    this.#table = new Map([...table].map(([k, v]) => [normalise(k), v]));
  }
  /** The `prompts.safetensors` of a model directory, or null when it has none. */
  static fromModelDir(dir: string, textDim: number): TablePromptEncoder | null {
    const file = join(dir, 'prompts.safetensors');
    if (!existsSync(file)) return null;
    const table = new Map<string, Float32Array>();
    for (const [name, t] of readSafetensors(file).tensors) {
      if (t.shape.length !== 2 || t.shape[1] !== textDim)
        throw new ArgumentError(`${file}: prompt "${name}" has shape [${t.shape}], expected [rows, ${textDim}]`, 'ARGUMENT');
      table.set(name, t.data);
    }
    return new TablePromptEncoder(table);
  }
  /** The prompts this encoder knows. */
  get prompts(): string[] {
    return [...this.#table.keys()];
  }
  encode(text: string): Float32Array {
    const e = this.#table.get(normalise(text));
    if (!e) throw new ArgumentError(`unknown prompt "${text}"; this model knows: ${this.prompts.join(', ')}`, 'ARGUMENT');
    return e;
  }
}

function normalise(s: string): string {
  return s.trim().toLowerCase().replace(/\s+/g, ' ');
}

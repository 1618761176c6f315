/**
 * A stand-in prompt encoder for models that ship no prompt table (the tiny test model):
 * a deterministic pseudo-random embedding per text (same text, same embedding). It only
 * makes prompts distinguishable; a real deployment uses the model's own encoder.
 */
import { createHash } from 'node:crypto';

import type { PromptEncoder } from '../../sdk/src/index.js';

export class HashPromptEncoder implements PromptEncoder {
  readonly rows: number;
  readonly textDim: number;
  constructor(textDim: number, rows = 4) {
    this.textDim = textDim;
    this.rows = rows;
  }
  encode(text: string): Float32Array {
    const norm = text.trim().toLowerCase().replace(/\s+/g, ' ');
    const out = new Float32Array(this.rows * this.textDim);
    let block = Buffer.alloc(0);
    let counter = 0;
    for (let i = 0; i < out.length; i++) {
      const j = (i * 2) % 32;
      if (j === 0) block = createHash('sha256').update(`${counter++}:${norm}`).digest();
      // uniform in [-1, 1)
      out[i] = block.readUInt16LE(j) / 32768 - 1;
    }
    return out;
  }
}

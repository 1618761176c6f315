/**
 * The per-chunk scorer interface of the LV-Bench evaluation. A scorer turns one chunk of a
 * video (a tenth of it, by default) into one number m_i; VDE (tools/eval/metrics.ts `vde`)
 * measures how far m_2..m_N drift from m_1.
 */

/** A chunk of a video: RGB frames (HWC bytes) of one size. */
export interface Chunk {
  frames: readonly Uint8Array[];
  width: number;
  height: number;
}

export interface Scorer {
  /** Short name (report column, `--scorers` entry). */
  readonly name: string;
  /** Name plus every setting that changes its values: the key its cached scores are stored under. */
  readonly id: string;
  /** What it measures and how, one sentence (goes into the report). */
  readonly description: string;
  /** The VBench / LV-Bench metric it stands in for, and with what. */
  readonly upstream: string;
  /** Fewest frames a chunk must have. */
  readonly minFrames: number;
  /** m_i of one chunk. */
  scoreChunk(chunk: Chunk): number | Promise<number>;
  /** Frees what it holds (a model session). */
  close?(): void | Promise<void>;
}

/** Checks a chunk against a scorer's needs (size, frame count, byte lengths). */
export function checkChunk(scorer: Pick<Scorer, 'name' | 'minFrames'>, chunk: Chunk): void {
  const { frames, width, height } = chunk;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new Error(`${scorer.name}: bad frame size ${width}×${height}`);
  if (frames.length < scorer.minFrames) throw new Error(`${scorer.name}: a chunk of ${frames.length} frames is too short (it needs ${scorer.minFrames}); generate a longer video or use fewer chunks`);
  const fb = width * height * 3;
  frames.forEach((f, i) => {
    if (f.length !== fb) throw new Error(`${scorer.name}: frame ${i} has ${f.length} bytes, expected ${width}×${height}×3 = ${fb}`);
  });
}

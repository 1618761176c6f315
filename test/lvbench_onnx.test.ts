// The optional ONNX-backed scorer: its input tensor, its error when onnxruntime-node is absent,
// and — where onnxruntime-node is installed (or $WORLDCAST_ONNXRUNTIME points at it) — scores
// from hand-written ONNX models (a ReduceMean graph) that can be checked by hand.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { scoreVideo } from '../tools/lvbench/evaluate.js';
import { frameTensor, loadOnnxRuntime, OnnxRuntimeMissingError, onnxScorer } from '../tools/lvbench/scorers/onnx.js';
import { reduceMeanModel } from './helpers/onnx_proto.js';

const W = 8;
const H = 6;
const solid = (r: number, g: number, b: number): Uint8Array => {
  const f = new Uint8Array(W * H * 3);
  for (let i = 0; i < W * H; i++) f.set([r, g, b], 3 * i);
  return f;
};

describe('ONNX scorer: without the runtime', () => {
  it('says how to install onnxruntime-node', async () => {
    const saved = process.env.WORLDCAST_ONNXRUNTIME;
    process.env.WORLDCAST_ONNXRUNTIME = '/nonexistent/onnxruntime-node/index.js';
    try {
      await expect(loadOnnxRuntime()).rejects.toThrow(OnnxRuntimeMissingError);
      await expect(loadOnnxRuntime()).rejects.toThrow(/--onnxruntime-node-install=skip/);
      const s = onnxScorer({ name: 'aesthetic', model: '/nonexistent.onnx', kind: 'frame' });
      await expect(scoreVideo(Array.from({ length: 10 }, () => solid(1, 2, 3)), W, H, [s], { chunks: 10 })).resolves.toMatchObject([{ vde: null, error: expect.stringMatching(/onnxruntime-node/) }]);
    } finally {
      if (saved === undefined) delete process.env.WORLDCAST_ONNXRUNTIME;
      else process.env.WORLDCAST_ONNXRUNTIME = saved;
    }
  });
});

describe('ONNX scorer: input tensor', () => {
  it('is NCHW float32, scaled to [0, 1] and normalised per channel', () => {
    const f = solid(255, 0, 51);
    const t = frameTensor(f, W, H, { mean: [0.5, 0.5, 0.5], std: [0.5, 0.25, 0.5] });
    expect(t.dims).toEqual([1, 3, H, W]);
    expect(t.data[0]).toBeCloseTo(1, 6); // (1 − 0.5) / 0.5
    expect(t.data[W * H]).toBeCloseTo(-2, 6); // (0 − 0.5) / 0.25
    expect(t.data[2 * W * H]).toBeCloseTo(-0.6, 6); // (0.2 − 0.5) / 0.5
  });
  it('resizes the shorter side to size and centre-crops a square', () => {
    const t = frameTensor(solid(10, 20, 30), W, H, { size: 3, crop: true });
    expect(t.dims).toEqual([1, 3, 3, 3]);
    expect(t.data[0]).toBeCloseTo(10 / 255, 6);
    expect(frameTensor(solid(10, 20, 30), W, H, { size: 3 }).dims).toEqual([1, 3, 3, 4]);
  });
});

// Resolved, not loaded, here: the test above needs the loader's first load to be its own.
const ort = (() => {
  try {
    createRequire(import.meta.url).resolve(process.env.WORLDCAST_ONNXRUNTIME || 'onnxruntime-node');
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!ort)('ONNX scorer: with onnxruntime-node', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lvonnx-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const meanModel = join(dir, 'mean.onnx');
  const colourModel = join(dir, 'colour.onnx');
  writeFileSync(meanModel, reduceMeanModel());
  writeFileSync(colourModel, reduceMeanModel([2, 3]));

  it('kind "frame": the mean of the network output per frame, averaged, times scale', async () => {
    const s = onnxScorer({ name: 'aesthetic', model: meanModel, kind: 'frame', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], scale: 0.1 });
    // white: every input value (1 − 0.5) / 0.5 = 1 → 0.1; black: −1 → −0.1; mean of the two: 0
    expect(await s.scoreChunk({ frames: [solid(255, 255, 255)], width: W, height: H })).toBeCloseTo(0.1, 6);
    expect(await s.scoreChunk({ frames: [solid(255, 255, 255), solid(0, 0, 0)], width: W, height: H })).toBeCloseTo(0, 6);
    // unnormalised mean of (255, 0, 51): (1 + 0 + 0.2) / 3
    const raw = onnxScorer({ name: 'm', model: meanModel, kind: 'frame' });
    expect(await raw.scoreChunk({ frames: [solid(255, 0, 51)], width: W, height: H })).toBeCloseTo(0.4, 6);
    await s.close?.();
    await raw.close?.();
  });

  it('kind "consistency": VBench consistency of the per-frame embeddings (here the mean colour)', async () => {
    const s = onnxScorer({ name: 'dino', model: colourModel, kind: 'consistency' });
    // red, red, green: frame 1 → 1; frame 2 → cos(red, green) = 0 to both → mean 0.5
    expect(await s.scoreChunk({ frames: [solid(255, 0, 0), solid(255, 0, 0), solid(0, 255, 0)], width: W, height: H })).toBeCloseTo(0.5, 6);
    // a static video: 1 in every chunk, zero drift
    const [r] = await scoreVideo(Array.from({ length: 20 }, () => solid(40, 90, 200)), W, H, [s], { chunks: 10 });
    expect(r!.chunks.every((v) => Math.abs(v - 1) < 1e-6)).toBe(true);
    expect(r!.vde).toBeCloseTo(0, 5);
    await s.close?.();
  });

  it('names the model file it cannot load', async () => {
    const s = onnxScorer({ name: 'bad', model: join(dir, 'missing.onnx'), kind: 'frame' });
    await expect(s.scoreChunk({ frames: [solid(1, 1, 1)], width: W, height: H })).rejects.toThrow(/ONNX scorer "bad": cannot load .*missing.onnx/);
  });
});

// The LV-Bench scorers on synthetic videos whose answer is known.
import { describe, expect, it } from 'vitest';

import { scoreVideo } from '../tools/lvbench/evaluate.js';
import { clarityScorer, frameClarity } from '../tools/lvbench/scorers/clarity.js';
import { backgroundScorer, consistency, cosine, subjectScorer } from '../tools/lvbench/scorers/consistency.js';
import { colourLayout, hog, resizeArea } from '../tools/lvbench/scorers/features.js';
import { createScorers, parseScorersFile } from '../tools/lvbench/scorers/index.js';
import { interpolateMiddle } from '../tools/lvbench/scorers/interpolate.js';
import { motionScore, motionScorer } from '../tools/lvbench/scorers/motion.js';

const W = 48;
const H = 48;

/** A deterministic, detailed RGB texture (value noise + stripes) sampled at integer (x, y). */
function tex(x: number, y: number, c: number): number {
  let h = Math.imul(x * 73856093 ^ y * 19349663 ^ c * 83492791, 0x9e3779b1) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) >>> 0;
  const noise = (h >>> 24) / 255;
  return Math.round(255 * (0.35 + 0.25 * Math.sin(x / 3 + c) * Math.cos(y / 4) + 0.35 * (noise - 0.5)));
}

/** A frame of the texture seen from offset (ox, oy), colours mapped by `tint`. */
function frameAt(ox: number, oy: number, tint: (v: number, c: number) => number = (v) => v): Uint8Array {
  const f = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) f[3 * (y * W + x) + c] = Math.min(255, Math.max(0, Math.round(tint(tex(x + ox, y + oy, c), c))));
  return f;
}

/** Separable box blur of radius r (edges replicated). */
function blur(src: Uint8Array, r: number): Uint8Array {
  if (r === 0) return src;
  const pass = (s: Float64Array, dx: number, dy: number): Float64Array => {
    const o = new Float64Array(s.length);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          for (let k = -r; k <= r; k++) {
            const xx = Math.min(W - 1, Math.max(0, x + k * dx));
            const yy = Math.min(H - 1, Math.max(0, y + k * dy));
            sum += s[3 * (yy * W + xx) + c]!;
          }
          o[3 * (y * W + x) + c] = sum / (2 * r + 1);
        }
    return o;
  };
  return Uint8Array.from(pass(pass(Float64Array.from(src), 1, 0), 0, 1), (v) => Math.round(v));
}

const video = (n: number, f: (t: number) => Uint8Array): Uint8Array[] => Array.from({ length: n }, (_, t) => f(t));

async function vdeOf(scorer: ReturnType<typeof clarityScorer>, frames: Uint8Array[]): Promise<{ chunks: number[]; vde: number | null; error: string | null }> {
  const [r] = await scoreVideo(frames, W, H, [scorer], { chunks: 10 });
  return r!;
}

describe('clarity scorer', () => {
  const sharp = frameAt(0, 0);
  it('falls as a frame blurs', () => {
    const c = [0, 1, 2, 3].map((r) => frameClarity(blur(sharp, r), W, H));
    for (let i = 1; i < c.length; i++) expect(c[i]).toBeLessThan(c[i - 1]!);
  });
  it('a static video has zero clarity drift; a blurring one drifts, faster blur more', async () => {
    const stat = await vdeOf(clarityScorer(), video(40, () => sharp));
    expect(stat.vde).toBe(0);
    const slow = await vdeOf(clarityScorer(), video(40, (t) => blur(sharp, Math.floor(t / 20)))); // blur 1 in the second half
    const fast = await vdeOf(clarityScorer(), video(40, (t) => blur(sharp, Math.floor(t / 8)))); // blur grows every 2 chunks
    expect(slow.vde).toBeGreaterThan(0.5);
    expect(fast.vde).toBeGreaterThan(slow.vde!);
    // chunks of the blurring video are non-increasing in clarity
    for (let i = 1; i < 10; i++) expect(fast.chunks[i]).toBeLessThanOrEqual(fast.chunks[i - 1]! + 1e-12);
  });
  it('a blank first chunk is an explicit VDE error, not inf', async () => {
    const r = await vdeOf(clarityScorer(), video(40, (t) => (t < 4 ? new Uint8Array(W * H * 3).fill(90) : sharp)));
    expect(r.chunks[0]).toBe(0);
    expect(r.vde).toBeNull();
    expect(r.error).toMatch(/m_1 = 0/);
  });
});

describe('frame interpolator', () => {
  it('gives back a static frame exactly', () => {
    const f = frameAt(3, 5);
    expect(interpolateMiddle(f, f, W, H)).toEqual(f);
  });
  it('matches a translation of 2 px per frame exactly away from the borders', () => {
    const a = frameAt(0, 0);
    const mid = frameAt(2, -1);
    const b = frameAt(4, -2);
    const p = interpolateMiddle(a, b, W, H);
    const m = 8; // border where content enters the frame
    for (let y = m; y < H - m; y++) for (let x = m; x < W - m; x++) for (let c = 0; c < 3; c++) expect(p[3 * (y * W + x) + c]).toBe(mid[3 * (y * W + x) + c]);
  });
});

describe('motion smoothness scorer', () => {
  it('follows VBench: (255 − mean |odd − interpolated|) / 255 over the even-frame pairs', () => {
    // Static even frames, odd frames brighter by 10: every interpolation misses by 10 → (255 − 10) / 255
    const base = new Uint8Array(W * H * 3).fill(100);
    const bright = new Uint8Array(W * H * 3).fill(110);
    const frames = video(7, (t) => (t % 2 ? bright : base));
    expect(motionScore(frames, W, H)).toBeCloseTo(245 / 255, 12);
    expect(() => motionScore(frames.slice(0, 2), W, H)).toThrow(/at least 3 frames/);
  });
  it('a static video scores 1 everywhere and has zero motion drift', async () => {
    const f = frameAt(1, 1);
    const r = await vdeOf(motionScorer(), video(40, () => f));
    expect(r.chunks.every((v) => v === 1)).toBe(true);
    expect(r.vde).toBe(0);
  });
  it('smooth motion scores higher than jerky motion; a video that turns jerky drifts', async () => {
    const smooth = video(40, (t) => frameAt(t, 0));
    const jitter = (t: number): number => (Math.imul(t + 1, 2654435761) >>> 28) - 8;
    const jerky = video(40, (t) => frameAt(t + jitter(t), jitter(t + 100)));
    expect(motionScore(smooth.slice(0, 8), W, H)).toBeGreaterThan(motionScore(jerky.slice(0, 8), W, H) + 0.02);
    const turns = video(40, (t) => (t < 20 ? smooth[t]! : jerky[t]!));
    const rs = await vdeOf(motionScorer(), smooth);
    const rt = await vdeOf(motionScorer(), turns);
    expect(rt.vde).toBeGreaterThan(10 * rs.vde!);
  });
});

describe('consistency scorers', () => {
  it('use VBench\'s formula: mean of (max(0, cos(prev)) + max(0, cos(first))) / 2', () => {
    expect(consistency([[1, 0], [1, 0], [0, 1]])).toBeCloseTo(0.5, 15);
    expect(consistency([[1, 0], [-1, 0]])).toBe(0); // negative cosines clamp to 0
    expect(consistency([[1, 0], [1, 1]])).toBeCloseTo(Math.SQRT1_2, 15);
    expect(cosine([0, 0], [0, 0])).toBe(1);
    expect(cosine([0, 0], [1, 0])).toBe(0);
    expect(() => consistency([[1]])).toThrow(/at least 2 frames/);
  });
  it('a static video has consistency 1 in every chunk and zero drift', async () => {
    const f = frameAt(2, 2);
    for (const s of [subjectScorer(), backgroundScorer()]) {
      const r = await vdeOf(s, video(20, () => f));
      for (const v of r.chunks) expect(v).toBeCloseTo(1, 12);
      expect(r.vde).toBeCloseTo(0, 10);
    }
  });
  it('a colour shift moves the background features, not the subject (HOG ignores a brightness offset)', () => {
    const f = frameAt(0, 0, (v) => v * 0.6 + 40);
    const shifted = frameAt(0, 0, (v, c) => v * 0.6 + 40 + (c === 0 ? 50 : 0));
    const brighter = frameAt(0, 0, (v) => v * 0.6 + 80);
    expect(cosine(hog(f, W, H), hog(brighter, W, H))).toBeGreaterThan(0.999);
    expect(cosine(colourLayout(f, W, H), colourLayout(shifted, W, H))).toBeLessThan(0.9);
  });
  it('a scene whose colours drift gives background drift; one whose shapes change gives subject drift', async () => {
    const warming = video(40, (t) => frameAt(0, 0, (v, c) => v * 0.6 + 30 + (c === 0 ? 4 * t : 0)));
    const bg = await vdeOf(backgroundScorer(), warming);
    expect(bg.vde).toBeGreaterThan(0);
    // shapes: a growing fraction of the frame is replaced by unrelated texture within each chunk
    const morph = video(40, (t) => {
      const a = frameAt(0, 0);
      const b = frameAt(500, 500);
      const cut = Math.round((t / 40) * W);
      for (let y = 0; y < H; y++) for (let x = 0; x < cut; x++) for (let c = 0; c < 3; c++) a[3 * (y * W + x) + c] = b[3 * (y * W + x) + c]!;
      return a;
    });
    const still = await vdeOf(subjectScorer(), video(40, () => frameAt(0, 0)));
    const sub = await vdeOf(subjectScorer(), morph);
    expect(still.vde).toBeCloseTo(0, 10);
    expect(sub.vde).toBeGreaterThan(0.01);
  });
  it('colour layout cosine is the mean Bhattacharyya coefficient of 16 regions (√ histograms of unit norm each)', () => {
    const v = colourLayout(frameAt(0, 0), W, H);
    expect(v.length).toBe(16 * 64);
    for (let g = 0; g < 16; g++) {
      let s = 0;
      for (let i = 0; i < 64; i++) s += v[g * 64 + i]! ** 2;
      expect(s).toBeCloseTo(1, 12);
    }
  });
  it('area resampling keeps a constant image constant and averages 2×2 blocks when halving', () => {
    expect([...resizeArea([5, 5, 5, 5], 2, 2, 1, 3, 3)].every((x) => Math.abs(x - 5) < 1e-12)).toBe(true);
    expect([...resizeArea([0, 4, 8, 12], 2, 2, 1, 1, 1)]).toEqual([6]);
  });
});

describe('scorer registry', () => {
  it('builds the built-ins and explains what aesthetic needs', () => {
    expect(createScorers(['clarity', 'motion', 'subject', 'background']).map((s) => s.name)).toEqual(['clarity', 'motion', 'subject', 'background']);
    expect(() => createScorers(['aesthetic'])).toThrow(/user-supplied model/);
    expect(() => createScorers(['sharpness'])).toThrow(/unknown scorer "sharpness"/);
    expect(() => createScorers(['clarity', 'clarity'])).toThrow(/twice/);
  });
  it('takes ONNX scorers from a scorers file (an entry with a built-in name replaces it)', () => {
    const specs = parseScorersFile(JSON.stringify({ onnx: [{ name: 'clarity', model: 'musiq.onnx', kind: 'frame' }, { name: 'aesthetic', model: 'aes.onnx', kind: 'frame', scale: 0.1 }] }));
    const s = createScorers(['clarity', 'aesthetic'], specs);
    expect(s.map((x) => x.id.startsWith('onnx/'))).toEqual([true, true]);
    expect(() => parseScorersFile('{"onnx": [{"name": "x", "model": "m.onnx", "kind": "pixel"}]}')).toThrow(/"kind" must be "frame" or "consistency"/);
    expect(() => parseScorersFile('[]')).toThrow(/expected \{ "onnx"/);
    expect(() => parseScorersFile('{"onnx": [{"name": "x", "model": "m.onnx", "kind": "frame", "std": [1, 0, 1]}]}')).toThrow(/non-zero/);
  });
  it('a chunk too short for a scorer is reported, not scored', async () => {
    const f = frameAt(0, 0);
    const [r] = await scoreVideo(video(20, () => f), W, H, [motionScorer()], { chunks: 10 }); // 2 frames per chunk
    expect(r!.error).toMatch(/too short \(it needs 3\)/);
    expect(r!.vde).toBeNull();
  });
});

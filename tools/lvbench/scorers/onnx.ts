/**
 * Scorers backed by a user-supplied ONNX network (onnxruntime-node), for the real models of
 * LV-Bench / VBench when you have their weights exported to ONNX: MUSIQ (imaging quality →
 * clarity), the LAION aesthetic predictor on CLIP ViT-L/14 (aesthetic), DINO ViT-B/16
 * (subject) or CLIP ViT-B/32 (background). worldcast ships no weights and downloads none.
 *
 * onnxruntime-node is an optional peer dependency: it is loaded on first use (dynamic import)
 * from `$WORLDCAST_ONNXRUNTIME` (a module path) or else the `onnxruntime-node` package; when
 * neither is there the scorer fails with an error saying how to install it. (Its npm install
 * script fetches CUDA binaries from NuGet on Linux x64 unless told not to, so it is not a
 * regular dependency: install it with `npm install --no-save onnxruntime-node
 * --onnxruntime-node-install=skip`.)
 *
 * A spec (`--scorers-file`, JSON `{ "onnx": [spec, …] }`):
 * - `name`: the scorer's name (`aesthetic`, `musiq`, …), `model`: the .onnx file;
 * - `kind`: `frame` — the network maps one frame to a score (the mean of its output), the chunk's
 *   value is the mean over its frames times `scale` (VBench's aesthetic divides LAION's score by
 *   10: scale 0.1); or `consistency` — the network maps a frame to an embedding, scored with
 *   VBench's consistency formula (consistency.ts);
 * - input: the frame resized (area resampling; upstream resizes bicubic) so its shorter side is
 *   `size` (default: as it is), centre-cropped to size × size when `crop`, scaled to [0, 1],
 *   normalised by `mean` / `std` per RGB channel, as a float32 NCHW tensor [1, 3, H, W] fed to
 *   the input `input` (default the first); `output` names the output used (default the first).
 */
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

import { keyOf } from '../store.js';
import { consistency } from './consistency.js';
import { featureSize, resizeArea } from './features.js';
import { checkChunk, type Chunk, type Scorer } from './scorer.js';

export interface OnnxScorerSpec {
  name: string;
  model: string;
  kind: 'frame' | 'consistency';
  size?: number;
  crop?: boolean;
  mean?: [number, number, number];
  std?: [number, number, number];
  scale?: number;
  input?: string;
  output?: string;
}

/** The parts of onnxruntime-node's API used here. */
export interface OrtTensor {
  readonly data: ArrayLike<number | bigint>;
  readonly dims: readonly number[];
}
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release?(): Promise<void>;
}
export interface OrtModule {
  InferenceSession: { create(path: string, options?: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
}

/** onnxruntime-node is not installed (or not loadable). */
export class OnnxRuntimeMissingError extends Error {
  override name = 'OnnxRuntimeMissingError';
}

let runtime: Promise<OrtModule> | null = null;

/** Loads onnxruntime-node (once): `$WORLDCAST_ONNXRUNTIME` or the `onnxruntime-node` package. */
export function loadOnnxRuntime(): Promise<OrtModule> {
  runtime ??= (async () => {
    const spec = process.env.WORLDCAST_ONNXRUNTIME || 'onnxruntime-node';
    let resolved: string;
    try {
      resolved = createRequire(import.meta.url).resolve(spec);
    } catch {
      throw new OnnxRuntimeMissingError(
        `the ONNX scorers need onnxruntime-node, which is not installed (looked for "${spec}"). Install it without its CUDA download: ` +
          '`npm install --no-save onnxruntime-node@1.30.0 --onnxruntime-node-install=skip`, or set WORLDCAST_ONNXRUNTIME to its path',
      );
    }
    const mod = (await import(pathToFileURL(resolved).href)) as Partial<OrtModule> & { default?: Partial<OrtModule> };
    const ort = (mod.InferenceSession ? mod : mod.default) as OrtModule | undefined;
    if (!ort?.InferenceSession || !ort.Tensor) throw new OnnxRuntimeMissingError(`${resolved} does not look like onnxruntime-node (no InferenceSession / Tensor)`);
    return ort;
  })();
  runtime.catch(() => (runtime = null));
  return runtime;
}

const isTriple = (v: unknown): v is [number, number, number] => Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/** Checks one spec (from a scorers file); `where` names it in errors. */
export function checkOnnxSpec(v: unknown, where: string): OnnxScorerSpec {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${where}: an ONNX scorer must be an object {name, model, kind, …}`);
  const o = v as Record<string, unknown>;
  const known = new Set(['name', 'model', 'kind', 'size', 'crop', 'mean', 'std', 'scale', 'input', 'output']);
  for (const k of Object.keys(o)) if (!known.has(k)) throw new Error(`${where}: unknown field "${k}" (known: ${[...known].join(', ')})`);
  if (typeof o.name !== 'string' || !/^[A-Za-z0-9_-]+$/.test(o.name)) throw new Error(`${where}: "name" must be letters, digits, '_' or '-'`);
  if (typeof o.model !== 'string' || o.model === '') throw new Error(`${where}: "model" must be the path of an .onnx file`);
  if (o.kind !== 'frame' && o.kind !== 'consistency') throw new Error(`${where}: "kind" must be "frame" or "consistency"`);
  if (o.size !== undefined && (typeof o.size !== 'number' || !Number.isInteger(o.size) || o.size < 1)) throw new Error(`${where}: "size" must be a positive whole number of pixels`);
  if (o.crop !== undefined && typeof o.crop !== 'boolean') throw new Error(`${where}: "crop" must be true or false`);
  if (o.mean !== undefined && !isTriple(o.mean)) throw new Error(`${where}: "mean" must be three numbers (R, G, B)`);
  if (o.std !== undefined && (!isTriple(o.std) || o.std.some((x) => x === 0))) throw new Error(`${where}: "std" must be three non-zero numbers (R, G, B)`);
  if (o.scale !== undefined && (typeof o.scale !== 'number' || !Number.isFinite(o.scale))) throw new Error(`${where}: "scale" must be a number`);
  for (const k of ['input', 'output'] as const) if (o[k] !== undefined && typeof o[k] !== 'string') throw new Error(`${where}: "${k}" must be a tensor name`);
  return o as unknown as OnnxScorerSpec;
}

/** A frame as the network's float32 NCHW input [1, 3, H, W] (see the module comment). */
export function frameTensor(rgb: Uint8Array, width: number, height: number, spec: Pick<OnnxScorerSpec, 'size' | 'crop' | 'mean' | 'std'>): { data: Float32Array; dims: number[] } {
  let w = width;
  let h = height;
  let img: ArrayLike<number> = rgb;
  if (spec.size !== undefined) {
    [w, h] = featureSize(width, height, spec.size);
    img = resizeArea(rgb, width, height, 3, w, h);
  }
  let x0 = 0;
  let y0 = 0;
  let ow = w;
  let oh = h;
  if (spec.crop) {
    const s = Math.min(w, h);
    x0 = Math.floor((w - s) / 2);
    y0 = Math.floor((h - s) / 2);
    ow = oh = s;
  }
  const mean = spec.mean ?? [0, 0, 0];
  const std = spec.std ?? [1, 1, 1];
  const data = new Float32Array(3 * oh * ow);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < oh; y++)
      for (let x = 0; x < ow; x++) data[(c * oh + y) * ow + x] = (img[3 * ((y + y0) * w + x + x0) + c]! / 255 - mean[c]!) / std[c]!;
  return { data, dims: [1, 3, oh, ow] };
}

/** An ONNX-backed scorer; the network is loaded on the first chunk. */
export function onnxScorer(spec: OnnxScorerSpec): Scorer {
  let session: Promise<OrtSession> | null = null;
  let ortMod: OrtModule | null = null;
  const open = (): Promise<OrtSession> =>
    (session ??= (async () => {
      ortMod = await loadOnnxRuntime();
      try {
        return await ortMod.InferenceSession.create(spec.model);
      } catch (e) {
        throw new Error(`ONNX scorer "${spec.name}": cannot load ${spec.model}: ${(e as Error).message}`);
      }
    })());
  let stamp = 'missing';
  try {
    const st = statSync(spec.model);
    stamp = `${st.size}-${st.mtimeMs}`;
  } catch {
    // reported when the model is opened
  }
  const run = async (rgb: Uint8Array, width: number, height: number): Promise<Float64Array> => {
    const sess = await open();
    const input = spec.input ?? sess.inputNames[0];
    const output = spec.output ?? sess.outputNames[0];
    if (!input || !sess.inputNames.includes(input)) throw new Error(`ONNX scorer "${spec.name}": no input "${input}" (the model has ${sess.inputNames.join(', ')})`);
    if (!output || !sess.outputNames.includes(output)) throw new Error(`ONNX scorer "${spec.name}": no output "${output}" (the model has ${sess.outputNames.join(', ')})`);
    const t = frameTensor(rgb, width, height, spec);
    const res = await sess.run({ [input]: new ortMod!.Tensor('float32', t.data, t.dims) });
    const y = res[output]!;
    return Float64Array.from(y.data as ArrayLike<number>, Number);
  };
  const s: Scorer = {
    name: spec.name,
    id: `onnx/${spec.name}/${keyOf({ ...spec, stamp })}`,
    description: spec.kind === 'frame' ? `mean over frames of the ONNX network ${spec.model}'s output${spec.scale !== undefined ? ` × ${spec.scale}` : ''}` : `VBench consistency of the ONNX network ${spec.model}'s per-frame embeddings`,
    upstream: `user-supplied ONNX model (${spec.kind})`,
    minFrames: spec.kind === 'frame' ? 1 : 2,
    async scoreChunk(chunk: Chunk): Promise<number> {
      checkChunk(s, chunk);
      if (spec.kind === 'consistency') {
        const feats: Float64Array[] = [];
        for (const f of chunk.frames) feats.push(await run(f, chunk.width, chunk.height));
        return consistency(feats);
      }
      let sum = 0;
      for (const f of chunk.frames) {
        const y = await run(f, chunk.width, chunk.height);
        if (y.length === 0) throw new Error(`ONNX scorer "${spec.name}": empty output`);
        sum += y.reduce((a, b) => a + b, 0) / y.length;
      }
      return (sum / chunk.frames.length) * (spec.scale ?? 1);
    },
    async close(): Promise<void> {
      if (session) await (await session.catch(() => null))?.release?.();
      session = null;
    },
  };
  return s;
}

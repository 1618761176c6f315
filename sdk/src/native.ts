/**
 * The native addon's shape (internal). Users import the SDK, never this.
 * build/Release/worldcast.node holds the public API only; the kernel test hooks live in
 * worldcast_testing.node, which only tests and benchmarks load (test/helpers/native_testing.ts).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

import type { KvDType, KvSelection } from './kvtypes.js';
import { packageRoot } from './package_root.js';
import type {
  DecoderConfig,
  DecoderGeometry,
  DecoderStreamStats,
  KvPage,
  KvStats,
  ModelInfo,
  SessionLayout,
  SessionStats,
  StageTimes,
  WeightType,
} from './types.js';


export interface NativeBlock {
  x0: Float32Array;
  frameStart: number;
  frames: number;
  channels: number;
  height: number;
  width: number;
  forwards: number;
  seconds: number;
  times: StageTimes;
}







export interface NativeSession {
  fork(opts?: { seed?: number | bigint }): Promise<NativeSession>;
  setSelection(sel: KvSelection): Promise<void>;
  kvPages(): KvPage[];
  step(opts?: { actions?: Float32Array; geometry?: Float32Array; noise?: Float32Array[]; frames?: number }): Promise<NativeBlock>;
  probe(x: Float32Array, t: Float32Array, actions?: Float32Array, geometry?: Float32Array): Promise<Float32Array>;
  commit(x0: Float32Array, actions?: Float32Array, geometry?: Float32Array): Promise<void>;
  setPrompt(embedding: Float32Array): Promise<void>;
  setImageLatent(latent: Float32Array): Promise<void>;
  setWindow(localAttnSize: number, sinkSize: number): Promise<void>;
  stats(): Promise<SessionStats>;
  close(): Promise<void>;
  readonly closed: boolean;
  readonly layout: SessionLayout;
}


export interface NativeModel {
  config(): Record<string, unknown>;
  info(): ModelInfo;
  kvStats(): KvStats;
  stepBatch(items: { session: NativeSession; actions?: Float32Array; geometry?: Float32Array; noise?: Float32Array[]; frames?: number }[]): Promise<({ block: NativeBlock } | { error: Error })[]>;
  commitBatch(sessions: NativeSession[]): Promise<{ committed: number; errors: (Error | null)[] }>;
  createSession(opts?: {
    seed?: number | bigint;
    kvDtype?: KvDType;
    foldCommit?: boolean;
    minBlockFrames?: number;
    localAttnSize?: number;
    sinkSize?: number;
    latentHeight?: number;
    latentWidth?: number;
  }): NativeSession;
  close(): void;
  readonly closed: boolean;
}

export interface NativeDecoded<T> {
  frames: T[];
  channels: number;
  height: number;
  width: number;
  seconds: number;
  latentFrames: number;
  framesOut: number;
}

export interface NativeDecoderStream {
  decode(latents: Float32Array, frames: number, height: number, width: number, opts?: { geometry?: Float32Array }): Promise<NativeDecoded<Buffer>>;
  decodeF32(latents: Float32Array, frames: number, height: number, width: number, opts?: { geometry?: Float32Array }): Promise<NativeDecoded<Float32Array>>;
  fork(): Promise<NativeDecoderStream>;
  reset(): Promise<void>;
  stats(): Promise<DecoderStreamStats>;
  close(): Promise<void>;
  readonly closed: boolean;
}

export interface NativeDecoder {
  config(): DecoderConfig;
  info(): { dir: string; isa: string; precision: 'f32' | 'bf16'; threads: number; weightBytes: number; convolutions: { direct: number; winograd: number }; geometry?: DecoderGeometry };
  createStream(): NativeDecoderStream;
  close(): void;
  readonly closed: boolean;
}

/** The native model behind each SDK Model (for a decoder that shares its engine thread). */
export const nativeModels = new WeakMap<object, NativeModel>();

export interface NativeAddon {
  Model: new (dir: string, opts?: { threads?: number; weights?: WeightType; blockFrames?: number; denoisingSteps?: number[]; kv?: { budgetBytes?: number; dtype?: KvDType } }) => NativeModel;
  Session: unknown;
  Decoder: new (dir: string, opts?: { threads?: number; engine?: NativeModel; precision?: 'f32' | 'bf16' }) => NativeDecoder;
  DecoderStream: unknown;
  gemmPaths(): Record<WeightType, string>;
  profiler: {
    start(): void;
    stop(): { names: string[]; cats: string[]; data: Float64Array };
    now(): number;
  };
}

/** The prebuilt addon's folder for this host in the package (prebuildify's `prebuilds/<platform>-<arch>/`). */
export function prebuiltFolder(): string {
  return `${process.platform}-${process.arch}`;
}

/**
 * Where the addon is, first found of:
 * 1. $WORLDCAST_ADDON (another build: debug, sanitizer);
 * 2. build/Release/worldcast.node, a source build (a developer's checkout, or an install
 *    with --build-from-source or on a platform without a prebuilt binary): what was built
 *    here wins over what was shipped;
 * 3. prebuilds/<platform>-<arch>/worldcast.node, the prebuilt binary the package carries
 *    (linux-x64; `npm install` keeps it when it loads on the host and builds from source
 *    otherwise, scripts/install.mjs).
 */
export function addonPath(): string {
  const override = process.env.WORLDCAST_ADDON;
  if (override) return resolve(override);
  const root = packageRoot();
  const built = join(root, 'build', 'Release', 'worldcast.node');
  if (existsSync(built)) return built;
  const prebuilt = join(root, 'prebuilds', prebuiltFolder(), 'worldcast.node');
  if (existsSync(prebuilt)) return prebuilt;
  throw new Error(
    `worldcast native addon not found: no build/Release/worldcast.node and no prebuilt binary for ${prebuiltFolder()} in ${root}; ` +
      'run `npm install` there (or `WORLDCAST_BUILD_FROM_SOURCE=1 npm rebuild worldcast`; it needs g++ and cmake)',
  );
}

const require = createRequire(import.meta.url);
let cached: NativeAddon | undefined;

/** Load the addon once. */
export function native(): NativeAddon {
  if (cached) return cached;
  const path = addonPath();
  try {
    cached = require(path) as NativeAddon;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`worldcast native addon ${path} does not load on this host (${why}); build it from source: \`WORLDCAST_BUILD_FROM_SOURCE=1 npm rebuild worldcast\` (needs g++ and cmake)`, { cause: err });
  }
  return cached;
}

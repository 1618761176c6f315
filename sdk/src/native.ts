/**
 * The native addon's shape (internal). Users import the SDK, never this.
 * build/Release/worldcast.node holds the public API only; the kernel test hooks live in
 * worldcast_testing.node, which only tests and benchmarks load (test/helpers/native_testing.ts).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { KvDType, KvSelection } from './kvtypes.js';
import type {
  DecoderConfig,
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
  step(opts?: { actions?: Float32Array; geometry?: Float32Array; noise?: Float32Array[] }): Promise<NativeBlock>;
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
  stepBatch(items: { session: NativeSession; actions?: Float32Array; geometry?: Float32Array; noise?: Float32Array[] }[]): Promise<({ block: NativeBlock } | { error: Error })[]>;
  createSession(opts?: {
    seed?: number | bigint;
    kvDtype?: KvDType;
    foldCommit?: boolean;
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
  decode(latents: Float32Array, frames: number, height: number, width: number): Promise<NativeDecoded<Buffer>>;
  decodeF32(latents: Float32Array, frames: number, height: number, width: number): Promise<NativeDecoded<Float32Array>>;
  fork(): Promise<NativeDecoderStream>;
  reset(): Promise<void>;
  stats(): Promise<DecoderStreamStats>;
  close(): Promise<void>;
  readonly closed: boolean;
}

export interface NativeDecoder {
  config(): DecoderConfig;
  info(): { dir: string; isa: string; threads: number; weightBytes: number };
  createStream(): NativeDecoderStream;
  close(): void;
  readonly closed: boolean;
}

export interface NativeAddon {
  Model: new (dir: string, opts?: { threads?: number; weights?: WeightType; kv?: { budgetBytes?: number; dtype?: KvDType } }) => NativeModel;
  Session: unknown;
  Decoder: new (dir: string, opts?: { threads?: number }) => NativeDecoder;
  DecoderStream: unknown;
  profiler: {
    start(): void;
    stop(): { names: string[]; cats: string[]; data: Float64Array };
    now(): number;
  };
}

/** Where the addon is: $WORLDCAST_ADDON, else build/Release/worldcast.node above this file. */
export function addonPath(): string {
  // WORLDCAST_ADDON points at another build of the addon (e.g. a debug or sanitizer build).
  const override = process.env.WORLDCAST_ADDON;
  if (override) return resolve(override);
  // From sdk/src (tsx/vitest) or dist/sdk/src (compiled): walk up to the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'build', 'Release', 'worldcast.node');
    if (existsSync(candidate)) return candidate;
    dir = resolve(dir, '..');
  }
  throw new Error('worldcast native addon not found: run `npm install` (it builds build/Release/worldcast.node)');
}

const require = createRequire(import.meta.url);
let cached: NativeAddon | undefined;

/** Load the addon once. */
export function native(): NativeAddon {
  cached ??= require(addonPath()) as NativeAddon;
  return cached;
}

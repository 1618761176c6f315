/**
 * The process's engine: one loaded world model (plus its video decoder) shared by every
 * room, and a batcher in front of it. Rooms call {@link WorldEngine.step} from their tick
 * and move on; the batcher gathers the blocks asked for while the previous batch ran (or,
 * when idle, within the current turn of the event loop) and runs them as one
 * `model.stepMany` — one batched forward per denoising step for all of those sessions,
 * whichever rooms they belong to. Each caller's Promise settles with its own block or
 * its own error.
 */
import { resolve } from 'node:path';

import {
  gemmPaths,
  loadModel,
  type BatchItem,
  type Decoder,
  type LatentBlock,
  type LoadOptions,
  type Model,
  type WorldcastError,
} from '../../sdk/src/index.js';
import { log, worldMetrics, type MetricsSource } from './metrics.js';

export interface EngineOptions {
  /** Model directory (config.json + *.safetensors). */
  modelDir: string;
  /**
   * Video decoder directory; null = no decoder (frames are latent previews); undefined =
   * the one the model names (the SDK's `modelDecoderDir` rule). Loaded once, as the model's
   * decoder; the rooms decode each block exactly once, on one stream per view.
   */
  decoderDir?: string | null;
  /** Compute threads of the model's engine (default: cores). */
  threads?: number;
  /**
   * Arithmetic of the decoder's convolutions (default {@link defaultServerDecoderPrecision}:
   * bf16 where the CPU has bf16 dot products, else f32).
   */
  decoderPrecision?: LoadOptions['decoderPrecision'];
  /**
   * Compute threads of a decoder thread of its own; default: none — the decoder runs on the
   * model's engine thread and compute threads, so a block's decodes and the steps take
   * turns instead of contending for the cores (see {@link LoadOptions.decoderThreads}).
   */
  decoderThreads?: number;
  kv?: LoadOptions['kv'];
  /**
   * Storage of the linear layers' weights (default {@link defaultServerWeights}: int8
   * where the CPU runs it with dot products, else f32).
   */
  weights?: LoadOptions['weights'];
  promptEncoder?: LoadOptions['promptEncoder'];
  /**
   * Latent frames per block instead of the model's (the SDK's {@link LoadOptions.blockFrames}):
   * rooms submit a block every that many frames, so an input waits less for the block that
   * takes it, at more engine time per frame (see the README's game server figures).
   */
  blockFrames?: number;
  /**
   * The sampler's timesteps instead of the model's (the SDK's {@link LoadOptions.denoisingSteps}):
   * a forward less per block for each step left out.
   */
  denoisingSteps?: number[];
  /** Most sessions in one batched step (default 32). */
  maxBatch?: number;
}

/**
 * The game server's weights unless told otherwise: 'int8' where this CPU runs int8 GEMMs
 * with dot products (AVX512_VNNI) or AMX tiles, else 'f32' (widened int8 saves memory, not time). On
 * the default world (`npm run eval -- --weights int8`) int8 frames score the same as f32
 * on the held-out episodes (PSNR at 1/5/30 s 30.05/27.60/29.70 dB against 30.04/27.61/
 * 29.69, every episode within 0.1 dB, SSIM within 0.0003) and a block steps ~1.7× faster,
 * which is what input-to-frame latency and the players one engine serves come down to.
 * The SDK's own default stays f32.
 */
export function defaultServerWeights(): NonNullable<LoadOptions['weights']> {
  // int8_amx (AMX tiles on widened int8) steps the default world as fast as bf16_amx
  // (27.3 against 27.0 ms a block of 3; int8_dot 28.9) in half bf16's weight bytes.
  return ['int8_dot', 'int8_amx'].includes(gemmPaths().int8) ? 'int8' : 'f32';
}

/**
 * The game server's decoder precision unless told otherwise: 'bf16' where this CPU runs
 * bf16 dot products (AVX512_BF16: the bf16 GEMM path is bf16_dot or bf16_amx), else 'f32'. On the
 * default world a block's decode takes ~0.58× the f32 time (10.1 → 5.8 ms a frame here)
 * and the frames stay within 4/255 of f32's (PSNR 56–61 dB against them; the README's
 * decoder figures), far inside the model's own error against the truth (~28–30 dB).
 */
export function defaultServerDecoderPrecision(): NonNullable<LoadOptions['decoderPrecision']> {
  return ['bf16_dot', 'bf16_amx'].includes(gemmPaths().bf16) ? 'bf16' : 'f32';
}

/** Counters of the batcher. */
export interface EngineStats {
  /** stepMany calls made. */
  batches: number;
  /** Blocks stepped (successfully or not). */
  blocks: number;
  /** Blocks that failed. */
  errors: number;
  /** Largest batch so far. */
  maxBatch: number;
  /** Blocks waiting for the next batch. */
  queued: number;
  /** A batch is running now. */
  running: boolean;
  /** Seconds the engine was busy: its batched steps and the eager commits after them. */
  busySeconds: number;
}

interface Pending {
  item: BatchItem;
  resolve: (b: LatentBlock) => void;
  reject: (e: unknown) => void;
}

/** A world model + decoder + batcher. One per process (see {@link WorldEngine.shared}). */
export class WorldEngine implements MetricsSource {
  readonly model: Model;
  readonly decoder: Decoder | null;
  readonly maxBatch: number;
  readonly #queue: Pending[] = [];
  #running = false;
  #scheduled = false;
  #closed = false;
  readonly #stats = { batches: 0, blocks: 0, errors: 0, maxBatch: 0, busySeconds: 0 };
  /** Recent busy spans of the engine thread: [end (ms, performance.now), duration (ms)], oldest first. */
  readonly #busy: [number, number][] = [];

  constructor(model: Model, decoder: Decoder | null, opts: { maxBatch?: number } = {}) {
    this.model = model;
    this.decoder = decoder;
    this.maxBatch = opts.maxBatch ?? 32;
    this.metricsLabel = model.info().dir;
    worldMetrics.addSource(this);
  }

  /** The model directory (the `model` label of its metrics). */
  readonly metricsLabel: string;

  /** @internal The gauges of the process metrics (read when they are scraped). */
  sample(): ReturnType<MetricsSource['sample']> {
    const kv = this.model.closed ? null : this.model.kvStats();
    return { sessions: kv?.sessions ?? 0, kvUsedBytes: kv?.usedBytes ?? 0, kvReservedBytes: kv?.reservedBytes ?? 0, kvBudgetBytes: kv?.budgetBytes ?? 0, queued: this.#queue.length, load: this.load() };
  }

  /** Load a model and its decoder (the model's own: closed with it). */
  static async load(opts: EngineOptions): Promise<WorldEngine> {
    const model = await loadModel(opts.modelDir, {
      threads: opts.threads,
      kv: opts.kv,
      weights: opts.weights ?? defaultServerWeights(),
      promptEncoder: opts.promptEncoder,
      decoder: opts.decoderDir,
      decoderThreads: opts.decoderThreads,
      decoderPrecision: opts.decoderPrecision ?? defaultServerDecoderPrecision(),
      blockFrames: opts.blockFrames,
      denoisingSteps: opts.denoisingSteps,
    });
    return new WorldEngine(model, model.decoder, { maxBatch: opts.maxBatch });
  }

  static #shared = new Map<string, Promise<WorldEngine>>();

  /** The process-wide engine for these options (loaded on first use, then shared by all rooms). */
  static shared(opts: EngineOptions): Promise<WorldEngine> {
    // (JSON turns NaN into null, the key of no override: refuse it before it can match)
    if (opts.blockFrames !== undefined && !Number.isInteger(opts.blockFrames)) return Promise.reject(new TypeError(`blockFrames must be an integer, not ${opts.blockFrames}`));
    const key = JSON.stringify([resolve(opts.modelDir), opts.decoderDir === undefined ? '(auto)' : opts.decoderDir && resolve(opts.decoderDir), opts.threads, opts.decoderThreads, opts.decoderPrecision ?? defaultServerDecoderPrecision(), opts.kv, opts.weights ?? defaultServerWeights(), opts.maxBatch, opts.blockFrames, opts.denoisingSteps]);
    let p = WorldEngine.#shared.get(key);
    if (!p) {
      p = WorldEngine.load(opts);
      p.catch(() => WorldEngine.#shared.delete(key));
      WorldEngine.#shared.set(key, p);
    }
    return p;
  }

  /** Close every shared engine (process shutdown, tests). */
  static async closeShared(): Promise<void> {
    const all = [...WorldEngine.#shared.values()];
    WorldEngine.#shared.clear();
    for (const p of all) (await p.catch(() => null))?.close();
  }

  /**
   * Ask for the next block of `item.session`. Returns at once; the block runs in the next
   * batch. At most one block per session may be pending (the rooms keep to that). Only
   * the latents come back (`decode: false`): the caller decodes them on its own stream,
   * after the batch, so the engine never waits on a decode.
   */
  step(item: BatchItem): Promise<LatentBlock> {
    return new Promise<LatentBlock>((resolve, reject) => {
      if (this.#closed) return reject(new Error('engine is closed'));
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#running || this.#scheduled || this.#queue.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    if (this.#running || this.#queue.length === 0) return;
    this.#running = true;
    const batch = this.#queue.splice(0, this.maxBatch);
    const t0 = performance.now();
    try {
      await this.#run(batch);
      // Nothing asked for meanwhile: the batch's held-back commits run now, in one batched
      // forward, so its sessions' next blocks need only their denoising forwards. (Asked-for
      // blocks go first: their commits fold into their first forward instead.) After this
      // turn of the event loop, so that the first frame of each block the rooms asked their
      // decoders for as the latents came in goes ahead of the commit on a shared engine
      // thread.
      await new Promise((r) => setImmediate(r));
      if (this.#queue.length === 0) await this.#commit(batch);
    } finally {
      const t1 = performance.now();
      this.#stats.busySeconds += (t1 - t0) / 1000;
      this.#noteBusy(t1, t1 - t0);
      this.#running = false;
      this.#schedule();
    }
  }

  async #commit(batch: Pending[]): Promise<void> {
    const sessions = batch.map((p) => p.item.session).filter((s) => !s.closed && s.layout.foldCommit);
    if (sessions.length === 0) return;
    const t0 = performance.now();
    try {
      const r = await this.model.commitPending(sessions);
      if (r.committed > 0) worldMetrics.commitSeconds.observe((performance.now() - t0) / 1000);
      // A refused commit stays waiting; the session's next step meets the same refusal and
      // its room ends that view with it. Counted and logged here.
      r.errors.forEach((e, i) => {
        if (!e) return;
        worldMetrics.errors.inc({ kind: 'commit' });
        log('warn', 'commit_failed', { session: i, error: e });
      });
    } catch (e) {
      // A session closed between the check and the call: the rest commit at their next step.
      worldMetrics.errors.inc({ kind: 'commit' });
      log('warn', 'commit_failed', { error: e });
    }
  }

  async #run(batch: Pending[]): Promise<void> {
    // A session closed while queued (player left) is not sent; its caller hears why.
    const live: Pending[] = [];
    for (const p of batch) {
      if (p.item.session.closed) p.reject(new Error('session closed before its block ran'));
      else live.push(p);
    }
    if (live.length === 0) return;
    this.#stats.batches++;
    this.#stats.blocks += live.length;
    this.#stats.maxBatch = Math.max(this.#stats.maxBatch, live.length);
    worldMetrics.batches.inc();
    worldMetrics.blocks.inc(live.length);
    worldMetrics.batchSize.observe(live.length);
    let results: (LatentBlock | WorldcastError)[];
    const t0 = performance.now();
    try {
      results = await this.model.stepMany(live.map((p) => ({ ...p.item, decode: false })));
      worldMetrics.stepSeconds.observe((performance.now() - t0) / 1000);
    } catch (e) {
      // The whole call was refused while checking its arguments (nothing ran): one bad
      // item must not fail the others, so run them one by one to find it.
      if (live.length === 1) {
        this.#stats.errors++;
        worldMetrics.blockErrors.inc();
        live[0]!.reject(e);
        return;
      }
      for (const p of live) {
        try {
          const [r] = await this.model.stepMany([{ ...p.item, decode: false }]);
          this.#settle(p, r!);
        } catch (e1) {
          this.#stats.errors++;
          worldMetrics.blockErrors.inc();
          p.reject(e1);
        }
      }
      return;
    }
    results.forEach((r, i) => this.#settle(live[i]!, r));
  }

  #settle(p: Pending, r: LatentBlock | WorldcastError): void {
    if (r instanceof Error) {
      this.#stats.errors++;
      worldMetrics.blockErrors.inc();
      p.reject(r);
    } else p.resolve(r);
  }

  /**
   * A decode the rooms ran (ms). The decoder runs on the model's engine thread unless it
   * was given threads of its own, so its decodes and the steps share that thread's time.
   */
  noteDecode(ms: number): void {
    if (ms > 0) this.#noteBusy(performance.now(), ms);
  }

  #noteBusy(end: number, ms: number): void {
    this.#busy.push([end, ms]);
    while (this.#busy.length > 0 && this.#busy[0]![0] < end - 10_000) this.#busy.shift();
  }

  /**
   * The share of the last `windowMs` the engine was busy: its batched steps and commits,
   * and the decodes the rooms reported ({@link noteDecode}); up to 1 and more when decodes
   * ran on a thread of their own. What a room's {@link BlockSizer} sizes its blocks by.
   */
  load(windowMs = 2000): number {
    const now = performance.now();
    const from = now - windowMs;
    let busy = 0;
    for (const [end, ms] of this.#busy) if (end > from) busy += Math.min(ms, end - from);
    return busy / windowMs;
  }

  get stats(): EngineStats {
    return { ...this.#stats, queued: this.#queue.length, running: this.#running };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Refuse new blocks; queued ones fail; the model and decoder finish their pending work. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    worldMetrics.removeSource(this);
    for (const p of this.#queue.splice(0)) p.reject(new Error('engine is closed'));
    // The decoder is the model's (closed with it), or a caller's own that it closes.
    this.model.close();
  }
}

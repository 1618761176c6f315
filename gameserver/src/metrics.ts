/**
 * The game server's Prometheus metrics (prom-client, text exposition on an HTTP path: see
 * `startWorldServer({metrics})`, default `/metrics`) and its structured log lines.
 *
 * One registry per process ({@link worldMetrics}): every WorldEngine and WorldRoom of the
 * process reports into it. Gauges of the engines (sessions, KV bytes, queue) are read when
 * scraped; counters and histograms are fed as things happen.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Something whose gauges are read at scrape time (a WorldEngine). */
export interface MetricsSource {
  /** A label for this source (e.g. the model directory). */
  readonly metricsLabel: string;
  /** Current values. */
  sample(): { sessions: number; kvUsedBytes: number; kvReservedBytes: number; kvBudgetBytes: number; queued: number; load: number };
}

const LATENCY_BUCKETS = [0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2, 5];

export class WorldMetrics {
  readonly registry = new Registry();
  readonly #sources = new Set<MetricsSource>();
  readonly blocks = new Counter({ name: 'worldcast_blocks_total', help: 'Blocks stepped by the engine (rate() = blocks/s)', registers: [this.registry] });
  readonly blockErrors = new Counter({ name: 'worldcast_block_errors_total', help: 'Blocks whose step failed', registers: [this.registry] });
  readonly batches = new Counter({ name: 'worldcast_batches_total', help: 'Batched steps (stepMany calls)', registers: [this.registry] });
  readonly stepSeconds = new Histogram({ name: 'worldcast_step_seconds', help: 'Wall time of one batched step (all its blocks)', buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly blockFrames = new Histogram({ name: 'worldcast_block_frames', help: "Latent frames of one stepped block (a room's 'auto' block size follows the engine's load)", buckets: [1, 2, 3, 4, 6, 8, 16], registers: [this.registry] });
  readonly batchSize = new Histogram({ name: 'worldcast_batch_size', help: 'Blocks in one batched step', buckets: [1, 2, 3, 4, 6, 8, 12, 16, 32], registers: [this.registry] });
  readonly commitSeconds = new Histogram({ name: 'worldcast_commit_seconds', help: 'Wall time of one batched eager commit (the commit passes of the previous batch, run while the engine idles)', buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly decodeSeconds = new Histogram({ name: 'worldcast_decode_seconds', help: 'Decode time of one block on its view stream (queued to decoded)', buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly inputToFrameSeconds = new Histogram({
    name: 'worldcast_input_to_frame_seconds',
    help: "From the server receiving a player's input to sending the first frame whose conditioning includes it",
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly framesSent = new Counter({ name: 'worldcast_frames_sent_total', help: 'Frames sent to clients (one per client per frame)', registers: [this.registry] });
  readonly framesDropped = new Counter({ name: 'worldcast_frames_dropped_total', help: 'Frames not sent to a client because its socket was behind (backpressure)', registers: [this.registry] });
  readonly bytesSent = new Counter({ name: 'worldcast_frame_bytes_sent_total', help: 'Bytes of frame envelopes sent (headers and payloads)', labelNames: ['part'] as const, registers: [this.registry] });
  readonly errors = new Counter({ name: 'worldcast_errors_total', help: 'Errors by kind (engine: a session ended; handler: a message handler threw; tick: a tick failed; violation: an invalid client message)', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly joins = new Counter({ name: 'worldcast_joins_total', help: 'Players and spectators joined', registers: [this.registry] });
  readonly refusals = new Counter({ name: 'worldcast_join_refusals_total', help: 'Joins refused, by reason', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly players = new Gauge({ name: 'worldcast_players', help: 'Connected players and spectators', registers: [this.registry] });
  readonly rooms = new Gauge({ name: 'worldcast_rooms', help: 'WorldRooms in this process', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'worldcast_' }); // worldcast_process_resident_memory_bytes, worldcast_nodejs_eventloop_lag_seconds, ...
    const sources = this.#sources;
    const read = (pick: (s: ReturnType<MetricsSource['sample']>) => number) =>
      function (this: Gauge<'model'>) {
        this.reset();
        for (const src of sources) this.set({ model: src.metricsLabel }, pick(src.sample()));
      };
    new Gauge({ name: 'worldcast_sessions', help: 'World sessions open', labelNames: ['model'] as const, registers: [this.registry], collect: read((s) => s.sessions) });
    new Gauge({ name: 'worldcast_kv_used_bytes', help: 'KV pool bytes in use', labelNames: ['model'] as const, registers: [this.registry], collect: read((s) => s.kvUsedBytes) });
    new Gauge({ name: 'worldcast_kv_reserved_bytes', help: 'KV pool bytes reserved by admitted sessions and not yet used', labelNames: ['model'] as const, registers: [this.registry], collect: read((s) => s.kvReservedBytes) });
    new Gauge({ name: 'worldcast_kv_budget_bytes', help: 'KV pool byte budget', labelNames: ['model'] as const, registers: [this.registry], collect: read((s) => s.kvBudgetBytes) });
    new Gauge({ name: 'worldcast_engine_load', help: "Share of the last 2 s the engine thread was busy (steps, commits, the decodes on it): what 'auto' block sizes follow", labelNames: ['model'] as const, registers: [this.registry], collect: read((s) => s.load) });
    new Gauge({ name: 'worldcast_blocks_queued', help: 'Blocks waiting for the next batched step', labelNames: ['model'] as const, registers: [this.registry], collect: read((s) => s.queued) });
  }

  /** Report this source's gauges until {@link removeSource}. */
  addSource(s: MetricsSource): void {
    this.#sources.add(s);
  }
  removeSource(s: MetricsSource): void {
    this.#sources.delete(s);
  }
  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
  get contentType(): string {
    return this.registry.contentType;
  }
}

/** The process's metrics. */
export const worldMetrics = new WorldMetrics();

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * A structured log line: one JSON object per line (`{t, level, event, ...fields}`) on stderr
 * for warnings and errors, stdout otherwise. `WORLDCAST_LOG=off` silences it,
 * `WORLDCAST_LOG=debug` adds debug lines.
 */
export function log(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
  const setting = process.env.WORLDCAST_LOG;
  if (setting === 'off' || (level === 'debug' && setting !== 'debug')) return;
  const line = JSON.stringify({ t: new Date().toISOString(), level, event, ...fields }, (_k, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message } : typeof v === 'bigint' ? v.toString() : v));
  (level === 'warn' || level === 'error' ? process.stderr : process.stdout).write(`${line}\n`);
}

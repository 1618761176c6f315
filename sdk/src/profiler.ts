/**
 * Profiling: native scopes (per step, forward, layer, GEMM, attention, KV, decoder) and
 * SDK-level spans on one clock, summarised as a table or exported as a Chrome/Perfetto
 * trace (open chrome://tracing or ui.perfetto.dev and load the JSON).
 *
 * ```ts
 * profiler.start();
 * await session.step();
 * const profile = profiler.stop();
 * console.log(profile.table());
 * writeFileSync('trace.json', JSON.stringify(profile.toChromeTrace()));
 * ```
 */
import { native } from './native.js';

/** One complete event: name, category, start and duration in microseconds, thread. */
export interface ProfileEvent {
  /** Scope name (e.g. 'forward', 'layer', or an SDK span such as 'sdk_step'). */
  name: string;
  /** Category (e.g. 'model'; 'sdk' for SDK spans unless given). */
  cat: string;
  /** Start in microseconds on the profiler clock ({@link profiler.now}). */
  ts: number;
  /** Duration in microseconds. */
  dur: number;
  /** Thread: a 16-bit hash of the native thread's id, 0 for SDK spans. */
  tid: number;
}

/** Totals of one event name. */
export interface ProfileRow {
  /** Event name. */
  name: string;
  /** Category of the first event with that name. */
  cat: string;
  /** Events with that name. */
  count: number;
  /** Their summed duration in milliseconds. */
  totalMs: number;
  /** `totalMs / count`. */
  meanMs: number;
}

/** The events recorded between start() and stop(). */
export class Profile {
  constructor(
    /** The recorded events, native and SDK, sorted by start. */
    readonly events: ProfileEvent[],
  ) {}
  /** Totals per event name, largest first. */
  summary(): ProfileRow[] {
    const rows = new Map<string, ProfileRow>();
    for (const e of this.events) {
      const r = rows.get(e.name) ?? { name: e.name, cat: e.cat, count: 0, totalMs: 0, meanMs: 0 };
      r.count++;
      r.totalMs += e.dur / 1e3;
      rows.set(e.name, r);
    }
    return [...rows.values()].map((r) => ({ ...r, meanMs: r.totalMs / r.count })).sort((a, b) => b.totalMs - a.totalMs);
  }
  /** The summary as a Markdown table. */
  table(): string {
    const lines = ['| scope | category | count | total ms | mean ms |', '|---|---|---|---|---|'];
    for (const r of this.summary()) lines.push(`| ${r.name} | ${r.cat} | ${r.count} | ${r.totalMs.toFixed(3)} | ${r.meanMs.toFixed(3)} |`);
    return lines.join('\n');
  }
  /** Chrome trace event format (complete events, microseconds). */
  toChromeTrace(): {
    /** One complete ('X') event per recorded event (pid 1). */
    traceEvents: object[];
    /** The unit trace viewers display times in. */
    displayTimeUnit: 'ms';
  } {
    return {
      traceEvents: this.events.map((e) => ({ name: e.name, cat: e.cat, ph: 'X', ts: e.ts, dur: e.dur, pid: 1, tid: e.tid })),
      displayTimeUnit: 'ms',
    };
  }
}

let sdkEvents: ProfileEvent[] | null = null;

/** The process-wide profiler. */
export const profiler = {
  /** Start recording (clears what was recorded before). */
  start(): void {
    native().profiler.start();
    sdkEvents = [];
  },
  /** Whether recording is on. */
  get active(): boolean {
    return sdkEvents !== null;
  },
  /** Stop recording and return the native and SDK events, sorted by start. */
  stop(): Profile {
    const raw = native().profiler.stop();
    const events: ProfileEvent[] = [];
    for (let i = 0; i < raw.data.length; i += 5)
      events.push({ name: raw.names[raw.data[i]!]!, cat: raw.cats[raw.data[i + 1]!]!, ts: raw.data[i + 2]!, dur: raw.data[i + 3]!, tid: raw.data[i + 4]! });
    events.push(...(sdkEvents ?? []));
    sdkEvents = null;
    events.sort((a, b) => a.ts - b.ts);
    return new Profile(events);
  },
  /** Record an SDK-level span around `fn` (sync or async) when recording. */
  async span<T>(name: string, fn: () => T | Promise<T>, cat = 'sdk'): Promise<T> {
    if (!sdkEvents) return fn();
    const t0 = native().profiler.now();
    try {
      return await fn();
    } finally {
      sdkEvents?.push({ name, cat, ts: t0, dur: native().profiler.now() - t0, tid: 0 });
    }
  },
  /** Record a span that already happened (times from profiler.now()). */
  mark(name: string, startUs: number, endUs: number, cat = 'sdk'): void {
    sdkEvents?.push({ name, cat, ts: startUs, dur: endUs - startUs, tid: 0 });
  },
  /** The profiler clock in microseconds (steady, shared with native events). */
  now(): number {
    return native().profiler.now();
  },
};

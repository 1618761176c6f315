/**
 * `npm run load`: N simulated players (real @colyseus/sdk clients) over loopback for a
 * bounded time. Prints frames/s delivered per client while it plays (the frames received
 * from the run's start — every client joined — or its first frame, whichever is later, to
 * the end, over that time), how long its first frame took after it joined (the session's
 * start), and frames/s over the whole run (start-up included); input-to-frame latency (p50/p99:
 * from sending an input to receiving the first frame whose conditioning includes it),
 * every byte each client receives (all WebSocket messages with their frame headers — state
 * patches and messages included — and, of the frames, envelope header vs payload bytes),
 * dropped frames, the server's RSS over the run, the engine's batching and errors.
 *
 *   npm run load -- [--clients 8] [--duration 60] [--input-hz 20] [--room world]
 *                   [--url ws://127.0.0.1:2567 --secret S]   (default: start a server child)
 *                   [--max-batch N] [--block-frames auto|N] [--denoising-steps 1000,500] [--threads N] [--decoder-threads N] [--decoder-precision f32|bf16] [--weights f32|bf16|int8] [--mode private|shared]
 *                   [--model DIR] [--decoder DIR|none]   (server child; default models/default)
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

import { ColyseusSDK, type Room } from '@colyseus/sdk';

import { signToken } from './auth.js';
import { isLoopback, mb, pct, requestStats, sleep, startChild } from './harness.js';
import { decodeEnvelope } from './protocol.js';
import { freePort } from './server.js';

const MAX_CLIENTS = 64;
const MAX_SECONDS = 900;
/** The flags that configure the server child `load` starts (passed through as given). */
const SERVER_FLAGS = ['threads', 'decoder-threads', 'decoder-precision', 'weights', 'max-batch', 'block-frames', 'denoising-steps', 'model', 'decoder'] as const;

interface Sim {
  id: number;
  room: Room | null;
  frames: number;
  /** Frame payload bytes (the encoded images). */
  bytes: number;
  /** Frame envelope bytes besides the payload (prefix + msgpack header). */
  headerBytes: number;
  /** Every byte received on the socket after joining: WebSocket frame headers + message data. */
  wireBytes: number;
  /** When joinOrCreate resolved, and when the first frame arrived (performance.now(); 0: not yet). */
  joinedAt: number;
  firstFrameAt: number;
  /** Frames received from the run's start (t0) on. */
  framesPlaying: number;
  /** Decoded frames of each block seen (by block index). */
  blockFrames: Map<number, number>;
  lastFrameAt: number;
  latencies: number[];
  sent: Map<number, number>;
  seq: number;
  lastMeasured: number;
  lastSeq: number;
  gaps: number;
  droppedByServer: number;
  errors: string[];
  left: boolean;
}

/**
 * Count every byte the client's socket receives from now on: each WebSocket message's data
 * plus its frame header (2, 4 or 10 bytes, unmasked server → client). TCP/IP headers are
 * not counted.
 */
function countWireBytes(room: Room, add: (n: number) => void): void {
  const ws = (room.connection as unknown as { transport?: { ws?: { addEventListener?: (t: string, f: (e: { data: unknown }) => void) => void } } }).transport?.ws;
  if (!ws?.addEventListener) throw new Error('load: cannot reach the client WebSocket to count its bytes');
  ws.addEventListener('message', (e) => {
    const d = e.data;
    const n = d instanceof ArrayBuffer ? d.byteLength : ArrayBuffer.isView(d) ? d.byteLength : typeof d === 'string' ? Buffer.byteLength(d) : 0;
    add(n + (n < 126 ? 2 : n < 65536 ? 4 : 10));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '8' },
      duration: { type: 'string', default: '60' },
      'input-hz': { type: 'string', default: '20' },
      room: { type: 'string', default: 'world' },
      url: { type: 'string' },
      secret: { type: 'string' },
      'max-batch': { type: 'string' },
      'block-frames': { type: 'string' },
      'denoising-steps': { type: 'string' },
      threads: { type: 'string' },
      'decoder-threads': { type: 'string' },
      'decoder-precision': { type: 'string' },
      weights: { type: 'string' },
      mode: { type: 'string', default: 'private' },
      model: { type: 'string' },
      decoder: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('npm run load -- [--clients 8] [--duration 60] [--input-hz 20] [--room world] [--url ws://127.0.0.1:PORT --secret S] [--max-batch N] [--block-frames auto|N] [--denoising-steps 1000,500] [--threads N] [--decoder-threads N] [--decoder-precision f32|bf16] [--weights f32|bf16|int8] [--mode private|shared] [--model DIR] [--decoder DIR|none]');
    return;
  }
  const nClients = Math.min(MAX_CLIENTS, Math.max(1, Number(values.clients) | 0));
  const seconds = Math.min(MAX_SECONDS, Math.max(1, Number(values.duration)));
  const inputHz = Math.min(60, Math.max(1, Number(values['input-hz'])));
  let secret = values.secret ?? process.env.WORLDCAST_SECRET;
  let child: ChildProcess | null = null;
  let url = values.url;
  if (url) {
    if (!isLoopback(url)) throw new Error(`load test runs over loopback only; ${url} is not a loopback address`);
    if (!secret) throw new Error('--url needs --secret (or WORLDCAST_SECRET) to sign tokens');
    const given = SERVER_FLAGS.filter((f) => values[f] !== undefined);
    if (given.length) throw new Error(`${given.map((f) => `--${f}`).join(', ')} configure the server load starts; with --url the running server's own settings hold`);
  } else {
    secret ??= randomBytes(24).toString('base64url');
    const port = await freePort();
    const args = ['--port', String(port), '--secret', secret, '--mode', values.mode === 'shared' ? 'shared' : 'private'];
    for (const f of SERVER_FLAGS) if (values[f]) args.push(`--${f}`, values[f]);
    const started = await startChild(args);
    child = started.child;
    url = started.url;
    console.log(`started server pid ${child.pid} at ${url}`);
  }

  /** The run's start (every client joined); 0 until then. */
  let t0 = 0;
  /** The world time one decoded frame stands for (the welcome's frameMs). */
  let frameMs = 0;
  const sims: Sim[] = [];
  const joinErrors: string[] = [];
  for (let i = 0; i < nClients; i++) {
    const sim: Sim = {
      id: i, room: null, frames: 0, bytes: 0, headerBytes: 0, wireBytes: 0, joinedAt: 0, firstFrameAt: 0, framesPlaying: 0, blockFrames: new Map(), lastFrameAt: 0, latencies: [], sent: new Map(), seq: 0,
      lastMeasured: 0, lastSeq: -1, gaps: 0, droppedByServer: 0, errors: [], left: false,
    };
    sims.push(sim);
    const sdk = new ColyseusSDK(url);
    sdk.auth.token = signToken(secret, { sub: `load-${i}`, ttlSeconds: seconds + 600 });
    try {
      const room = await sdk.joinOrCreate(values.room, {});
      sim.joinedAt = performance.now();
      room.reconnection.enabled = false;
      sim.room = room;
      room.onMessage('frame', (b: Uint8Array) => {
        const now = performance.now();
        const { header, payload } = decodeEnvelope(b);
        if (sim.frames === 0) sim.firstFrameAt = now;
        sim.frames++;
        if (t0 > 0 && now >= t0) sim.framesPlaying++;
        sim.lastFrameAt = now;
        sim.bytes += payload.length;
        sim.headerBytes += b.length - payload.length;
        if (sim.lastSeq >= 0 && header.seq > sim.lastSeq + 1) sim.gaps += header.seq - sim.lastSeq - 1;
        sim.lastSeq = header.seq;
        sim.blockFrames.set(header.block, header.frames);
        sim.droppedByServer = header.dropped;
        // Every input up to the block's newest one is now visible: its latency ends here.
        for (let k = sim.lastMeasured + 1; k <= header.input; k++) {
          const t = sim.sent.get(k);
          if (t !== undefined) {
            sim.latencies.push(now - t);
            sim.sent.delete(k);
          }
        }
        if (header.input > sim.lastMeasured) sim.lastMeasured = header.input;
      });
      countWireBytes(room, (n) => (sim.wireBytes += n));
      room.onMessage('error', (m: { message?: string }) => sim.errors.push(`error: ${m?.message}`));
      room.onMessage('session_ended', (m: { message?: string }) => sim.errors.push(`session ended: ${m?.message}`));
      room.onMessage('welcome', (m: { frameMs?: unknown }) => {
        if (typeof m?.frameMs === 'number' && m.frameMs > 0) frameMs = m.frameMs;
      });
      for (const t of ['prompt', 'stats']) room.onMessage(t, () => undefined);
      room.onError((code: number, message?: string) => sim.errors.push(`room error ${code}: ${message}`));
      room.onLeave((code: number) => {
        sim.left = true;
        if (code !== 4000) sim.errors.push(`left with code ${code}`);
      });
    } catch (e) {
      joinErrors.push(`client ${i}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const live = sims.filter((s) => s.room);
  console.log(`${live.length}/${nClients} clients joined room type "${values.room}"; running ${seconds} s, input ${inputHz} Hz`);
  const probe = live[0]?.room;
  const startStats = probe ? await requestStats(probe) : null;

  // Inputs: each client wanders: a key pattern changing every second, small mouse moves.
  const patterns = [1, 1, 1 | 8, 1 | 2, 0, 4, 2, 8, 1 | 16];
  t0 = performance.now();
  const rss: number[] = startStats ? [startStats.server.rss] : [];
  const inputTimer = setInterval(() => {
    const sec = Math.floor((performance.now() - t0) / 1000);
    for (const s of live) {
      if (s.left || !s.room) continue;
      const seq = ++s.seq;
      const keys = patterns[(sec + s.id) % patterns.length]!;
      const dx = Math.sin((seq + s.id * 7) / 10) * 0.05;
      s.sent.set(seq, performance.now());
      if (s.sent.size > 4096) s.sent.delete(s.sent.keys().next().value as number);
      s.room.send('input', { seq, keys, dx, dy: 0 });
    }
  }, 1000 / inputHz);
  const rssTimer = setInterval(() => {
    if (probe && !sims[0]!.left) void requestStats(probe).then((st) => st && rss.push(st.server.rss));
  }, 5000);
  const progress = setInterval(() => {
    const el = (performance.now() - t0) / 1000;
    const fr = live.reduce((a, s) => a + s.frames, 0);
    console.log(`  ${el.toFixed(0)} s: ${fr} frames, ${(fr / el / Math.max(1, live.length)).toFixed(1)} frames/s per client`);
  }, 10_000);
  await sleep(seconds * 1000);
  clearInterval(inputTimer);
  clearInterval(rssTimer);
  clearInterval(progress);
  const endStats = probe ? await requestStats(probe) : null;
  if (endStats) rss.push(endStats.server.rss);
  const tEnd = performance.now();
  const elapsed = (tEnd - t0) / 1000;

  // While playing: from the run's start, or from the client's first frame when that came later.
  // (A window that opens at the first frame counts the frames after it: N frames, N − 1 intervals.)
  const playingFps = (s: Sim): number => {
    if (s.firstFrameAt === 0) return 0;
    const from = Math.max(t0, s.firstFrameAt);
    return (s.framesPlaying - (s.firstFrameAt >= t0 ? 1 : 0)) / Math.max(1e-3, (tEnd - from) / 1000);
  };
  const firstMs = (s: Sim): string => (s.firstFrameAt > 0 ? (s.firstFrameAt - s.joinedAt).toFixed(0) : '-');
  console.log('\nclient  frames  frames/s playing  first frame ms  KiB/s (all bytes)  hdr B/frame  p50 ms  p99 ms  dropped  gaps  errors');
  const all: number[] = [];
  for (const s of sims) {
    all.push(...s.latencies);
    console.log(
      `${String(s.id).padStart(6)}  ${String(s.frames).padStart(6)}  ${playingFps(s).toFixed(1).padStart(16)}  ${firstMs(s).padStart(14)}  ${(s.wireBytes / 1024 / elapsed).toFixed(1).padStart(16)}  ${(s.headerBytes / Math.max(1, s.frames)).toFixed(0).padStart(11)}  ${pct(s.latencies, 50).toFixed(0).padStart(7)}  ${pct(s.latencies, 99).toFixed(0).padStart(6)}  ${String(s.droppedByServer).padStart(7)}  ${String(s.gaps).padStart(4)}  ${String(s.errors.length).padStart(6)}`,
    );
  }
  const totalFrames = live.reduce((a, s) => a + s.frames, 0);
  const errors = joinErrors.length + sims.reduce((a, s) => a + s.errors.length, 0);
  const playing = live.reduce((a, s) => a + playingFps(s), 0);
  console.log(
    `\nclients ${live.length}, ${elapsed.toFixed(1)} s: ${playing.toFixed(1)} frames/s in all while playing, ${(playing / Math.max(1, live.length)).toFixed(1)} per client; ` +
      `over the whole run, start-up included, ${(totalFrames / elapsed / Math.max(1, live.length)).toFixed(1)} per client (${totalFrames} frames)`,
  );
  if (frameMs > 0) console.log(`world clock: ${(1000 / frameMs).toFixed(1)} frames/s (${frameMs.toFixed(1)} ms a frame)`);
  console.log(`input-to-frame latency over ${all.length} inputs: p50 ${pct(all, 50).toFixed(1)} ms, p99 ${pct(all, 99).toFixed(1)} ms`);
  const frames = Math.max(1, totalFrames);
  const wire = live.reduce((a, s) => a + s.wireBytes, 0);
  const hdr = live.reduce((a, s) => a + s.headerBytes, 0);
  const pay = live.reduce((a, s) => a + s.bytes, 0);
  console.log(
    `bytes received per client: ${(wire / Math.max(1, live.length) / elapsed / 1024).toFixed(1)} KiB/s in all; per frame ${(wire / frames).toFixed(0)} B on the wire = ` +
      `${(pay / frames).toFixed(0)} B payload + ${(hdr / frames).toFixed(0)} B envelope header + ${((wire - pay - hdr) / frames).toFixed(0)} B WebSocket/Colyseus framing and other messages`,
  );
  const sizes = new Map<number, number>();
  for (const s of live) for (const [b, n] of s.blockFrames) if (b > 0) sizes.set(n, (sizes.get(n) ?? 0) + 1);
  console.log(`blocks by decoded frames (all clients, the first block of each view left out): ${[...sizes].sort((a, b) => a[0] - b[0]).map(([n, c]) => `${n}: ${c}`).join(', ')}`);
  console.log(`dropped frames (server backpressure): ${sims.reduce((a, s) => a + s.droppedByServer, 0)}; sequence gaps seen: ${sims.reduce((a, s) => a + s.gaps, 0)}`);
  if (startStats && endStats) {
    console.log(`server RSS: start ${mb(startStats.server.rss)}, end ${mb(endStats.server.rss)}; samples ${rss.map(mb).join(', ')}`);
    const e = endStats.engine;
    const d = { batches: e.batches - startStats.engine.batches, blocks: e.blocks - startStats.engine.blocks };
    console.log(`engine: ${d.blocks} blocks in ${d.batches} batched steps (mean batch ${(d.blocks / Math.max(1, d.batches)).toFixed(2)}, max ${e.maxBatch}), busy ${(e.busySeconds - startStats.engine.busySeconds).toFixed(1)} s, engine errors ${e.errors}; KV sessions ${endStats.kv.sessions}`);
  }
  console.log(`errors: ${errors}`);
  for (const e of joinErrors) console.log(`  ${e}`);
  for (const s of sims) for (const e of s.errors.slice(0, 3)) console.log(`  client ${s.id}: ${e}`);

  for (const s of live) if (!s.left) await Promise.race([s.room!.leave(), sleep(1000)]);
  if (child) {
    child.kill('SIGTERM');
    await Promise.race([new Promise((r) => child!.once('exit', r)), sleep(5000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  process.exitCode = errors > 0 ? 1 : 0;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

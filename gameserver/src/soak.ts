/**
 * `npm run soak`: a long run of real @colyseus/sdk clients against a game-server child
 * (over loopback only, bounded in time), with everything a real population does: players
 * walking with changing inputs, prompt changes, leaving and rejoining, abrupt drops that
 * reconnect within the grace period, drops that never come back (the world is freed after
 * the grace period), and reconnects that supersede a still-open socket. Every interval it
 * prints the server's RSS, the KV pool, sessions, frames delivered and errors; at the end,
 * after every client left and the grace period passed, the KV pool must be back at its
 * baseline and the errors 0 (exit code 1 otherwise).
 *
 *   npm run soak -- [--minutes 30] [--clients 4] [--interval 60] [--seed 1]
 *                   [--model DIR] [--threads N]
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

import { ColyseusSDK, type Room } from '@colyseus/sdk';

import { signToken } from './auth.js';
import { mb, requestStats, sleep, startChild, type ServerStats } from './harness.js';
import { decodeEnvelope } from './protocol.js';
import { freePort } from './server.js';
import { Rng } from '../../world/src/rng.js';

const MAX_MINUTES = 120;
const MAX_CLIENTS = 16;
const PROMPTS = ['day', 'dusk', 'night', 'fog'];
/** What a client's own socket drop (no leave message) may close with as it sees it. */
const DROP_CODES = [1000, 1005, 1006];

type Ending = 'leave' | 'drop-reconnect' | 'drop-abandon' | 'supersede';

interface Slot {
  id: number;
  /** This client's own stream of choices (seeded by --seed and its id). */
  rng: Rng;
  sdk: ColyseusSDK;
  room: Room | null;
  frames: number;
  joins: number;
  endings: Record<Ending, number>;
  errors: string[];
  /** Close codes the current room's socket may end with because this client caused them. */
  expectedClose: Set<number>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '30' },
      clients: { type: 'string', default: '4' },
      interval: { type: 'string', default: '60' },
      seed: { type: 'string', default: '1' },
      model: { type: 'string' },
      threads: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('npm run soak -- [--minutes 30] [--clients 4] [--interval 60 (s between reports)] [--seed 1] [--model DIR] [--threads N]');
    return;
  }
  const minutes = Math.min(MAX_MINUTES, Math.max(0.1, Number(values.minutes)));
  const nClients = Math.min(MAX_CLIENTS, Math.max(1, Number(values.clients) | 0));
  const interval = Math.max(5, Number(values.interval));
  const grace = 20; // the server's default reconnectGraceSeconds (WorldRoom)
  const seed = Number(values.seed) >>> 0;
  const secret = randomBytes(24).toString('base64url');
  const port = await freePort();
  const args = ['--port', String(port), '--secret', secret];
  if (values.model) args.push('--model', values.model);
  if (values.threads) args.push('--threads', values.threads);
  const started = await startChild(args);
  const child: ChildProcess = started.child;
  const url = started.url;
  const ttl = minutes * 60 + 3600;
  console.log(`soak: server pid ${child.pid} at ${url}; ${nClients} clients for ${minutes} min, reports every ${interval} s`);

  // The monitor: one watcher in the shared room, there from start to end, that asks for stats.
  const monitorSdk = new ColyseusSDK(url);
  monitorSdk.auth.token = signToken(secret, { sub: 'soak-monitor', ttlSeconds: ttl });
  const monitor = await monitorSdk.joinOrCreate('world-shared', {});
  monitor.reconnection.enabled = false;
  for (const t of ['frame', 'welcome', 'prompt', 'error', 'session_ended']) monitor.onMessage(t, () => undefined);
  await sleep(3000);
  const baseline = await requestStats(monitor);
  if (!baseline) throw new Error('the monitor got no stats from the server');

  const slots: Slot[] = Array.from({ length: nClients }, (_, id) => {
    const sdk = new ColyseusSDK(url);
    sdk.auth.token = signToken(secret, { sub: `soak-${id}`, ttlSeconds: ttl });
    return { id, rng: new Rng(seed, id), sdk, room: null, frames: 0, joins: 0, endings: { leave: 0, 'drop-reconnect': 0, 'drop-abandon': 0, supersede: 0 }, errors: [], expectedClose: new Set() };
  });

  const attach = (s: Slot, room: Room): void => {
    room.reconnection.enabled = false;
    s.room = room;
    const expected = new Set<number>([4000]);
    s.expectedClose = expected;
    room.onMessage('frame', (b: Uint8Array) => {
      decodeEnvelope(b);
      s.frames++;
    });
    for (const t of ['welcome', 'prompt', 'stats', 'spectate_ended']) room.onMessage(t, () => undefined);
    room.onMessage('error', (m: { message?: string }) => s.errors.push(`error: ${m?.message}`));
    room.onMessage('session_ended', (m: { message?: string }) => s.errors.push(`session ended: ${m?.message}`));
    room.onLeave((code: number) => {
      if (s.room === room) s.room = null;
      if (!expected.has(code)) s.errors.push(`left with code ${code}`);
    });
  };

  const deadline = performance.now() + minutes * 60_000;
  const alive = () => performance.now() < deadline;

  const play = async (s: Slot, seconds: number): Promise<void> => {
    const end = performance.now() + seconds * 1000;
    let seq = 0;
    let keys = 1;
    let nextPrompt = performance.now() + (5 + s.rng.next() * 20) * 1000;
    while (performance.now() < end && alive() && s.room) {
      if (s.rng.next() < 0.05) keys = [0, 1, 1 | 8, 1 | 2, 4, 2, 8, 1 | 16][Math.floor(s.rng.next() * 8)]!;
      s.room.send('input', { seq: ++seq, keys, dx: (s.rng.next() - 0.5) * 0.1, dy: 0 });
      if (performance.now() > nextPrompt) {
        s.room.send('prompt', { text: PROMPTS[Math.floor(s.rng.next() * PROMPTS.length)]! });
        nextPrompt = performance.now() + (10 + s.rng.next() * 30) * 1000;
      }
      await sleep(50);
    }
  };

  const join = async (s: Slot): Promise<boolean> => {
    try {
      attach(s, await s.sdk.joinOrCreate('world', {}));
      s.joins++;
      return true;
    } catch (e) {
      s.errors.push(`join: ${e instanceof Error ? e.message : String(e)}`);
      await sleep(5000);
      return false;
    }
  };

  const reconnect = async (s: Slot, token: string): Promise<void> => {
    try {
      attach(s, await new ColyseusSDK(url).reconnect(token));
    } catch (e) {
      s.errors.push(`reconnect: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  const life = async (s: Slot): Promise<void> => {
    await sleep(s.id * 1500); // staggered arrivals
    while (alive()) {
      if (!s.room && !(await join(s))) continue;
      await play(s, 15 + s.rng.next() * 45);
      if (!alive() || !s.room) break;
      const r = s.rng.next();
      const ending: Ending = r < 0.35 ? 'leave' : r < 0.65 ? 'drop-reconnect' : r < 0.8 ? 'drop-abandon' : 'supersede';
      s.endings[ending]++;
      const room = s.room;
      const token = room.reconnectionToken;
      if (ending === 'leave') {
        await room.leave(true);
        await sleep(1000 + s.rng.next() * 3000);
      } else if (ending === 'drop-reconnect') {
        for (const c of DROP_CODES) s.expectedClose.add(c);
        await room.leave(false); // the socket drops, no leave message
        await sleep(500 + s.rng.next() * 5000);
        await reconnect(s, token);
      } else if (ending === 'drop-abandon') {
        for (const c of DROP_CODES) s.expectedClose.add(c);
        await room.leave(false);
        await sleep((grace + 2) * 1000); // the server frees the world after the grace period
      } else {
        s.expectedClose.add(4002); // Colyseus closes the superseded socket with 4002
        await reconnect(s, token);
      }
    }
  };

  const t0 = performance.now();
  const samples: { t: number; st: ServerStats; frames: number; errors: number }[] = [];
  const report = async (): Promise<void> => {
    const st = await requestStats(monitor);
    if (!st) return;
    const frames = slots.reduce((a, s) => a + s.frames, 0);
    const errors = slots.reduce((a, s) => a + s.errors.length, 0);
    const t = (performance.now() - t0) / 1000;
    samples.push({ t, st, frames, errors });
    console.log(
      `${(t / 60).toFixed(1).padStart(6)} min  RSS ${mb(st.server.rss).padStart(10)}  KV used ${mb(st.kv.usedBytes).padStart(9)} reserved ${mb(st.kv.reservedBytes).padStart(9)}  sessions ${String(st.kv.sessions).padStart(2)}  frames ${String(frames).padStart(7)}  engine errors ${st.engine.errors}  client errors ${errors}`,
    );
  };
  // The monitor's windowed session turns reserved bytes into used ones as it fills its
  // window: what it holds in all (used + reserved) is what must be left at the end.
  const held = (st: ServerStats) => st.kv.usedBytes + st.kv.reservedBytes;
  console.log(`baseline: RSS ${mb(baseline.server.rss)}, KV held ${held(baseline)} bytes (used ${baseline.kv.usedBytes} + reserved ${baseline.kv.reservedBytes}), sessions ${baseline.kv.sessions} (the monitor's shared world)`);
  const timer = setInterval(() => void report(), interval * 1000);
  await Promise.all(slots.map((s) => life(s)));
  clearInterval(timer);
  await report();

  // Everyone leaves; after the grace period every world but the monitor's must be gone.
  await Promise.all(slots.map(async (s) => s.room && (await Promise.race([s.room.leave(true), sleep(2000)]))));
  console.log(`all clients left; waiting ${grace + 5} s (the reconnection grace) for abandoned worlds to be freed`);
  await sleep((grace + 5) * 1000);
  const end = await requestStats(monitor);
  await Promise.race([monitor.leave(true), sleep(2000)]);
  child.kill('SIGTERM');
  await Promise.race([new Promise((r) => child.once('exit', r)), sleep(5000)]);
  if (child.exitCode === null) child.kill('SIGKILL');

  const frames = slots.reduce((a, s) => a + s.frames, 0);
  const errors = slots.flatMap((s) => s.errors.map((e) => `client ${s.id}: ${e}`));
  const endings = slots.reduce((a, s) => ({ leave: a.leave + s.endings.leave, 'drop-reconnect': a['drop-reconnect'] + s.endings['drop-reconnect'], 'drop-abandon': a['drop-abandon'] + s.endings['drop-abandon'], supersede: a.supersede + s.endings.supersede }), { leave: 0, 'drop-reconnect': 0, 'drop-abandon': 0, supersede: 0 });
  const elapsed = (performance.now() - t0) / 1000;
  console.log(`\nsoak: ${(elapsed / 60).toFixed(1)} min, ${slots.reduce((a, s) => a + s.joins, 0)} joins; endings ${JSON.stringify(endings)}`);
  console.log(`frames delivered: ${frames} (${(frames / elapsed).toFixed(1)} frames/s over all clients)`);
  const rss = samples.map((x) => x.st.server.rss);
  if (rss.length) console.log(`server RSS: baseline ${mb(baseline.server.rss)}, min ${mb(Math.min(...rss))}, max ${mb(Math.max(...rss))}, end ${end ? mb(end.server.rss) : '?'}`);
  let ok = errors.length === 0;
  if (end) {
    const back = held(end) === held(baseline) && end.kv.sessions === baseline.kv.sessions;
    console.log(`KV at the end: held ${held(end)} bytes (used ${end.kv.usedBytes} + reserved ${end.kv.reservedBytes}), sessions ${end.kv.sessions} — ${back ? 'back to the baseline' : 'NOT back to the baseline'}; engine errors ${end.engine.errors - baseline.engine.errors}`);
    ok &&= back && end.engine.errors === baseline.engine.errors;
  } else {
    console.log('no stats at the end');
    ok = false;
  }
  console.log(`errors: ${errors.length}`);
  for (const e of errors.slice(0, 20)) console.log(`  ${e}`);
  process.exitCode = ok ? 0 : 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

// Game server scale-out: two server processes (gameserver/src/server.ts, each with its own
// engine) share one Redis — Colyseus' RedisPresence + RedisDriver — started by this test on a
// free loopback port. Real @colyseus/sdk clients check that rooms created through process A
// are listed and joinable through process B (a client matched by B ends up connected to the
// process that hosts the room), that new rooms spread over both processes, that frames flow
// in every room, that each process steps only its own sessions, that a reconnection
// matched by the other process goes back to the room's own process with the same world, and
// that a crashed process drops out of listings and room placement at once.
//
// Needs `redis-server` (Debian: apt-get install redis-server; .ci/run installs it; or name the
// binary in REDIS_SERVER_BIN); skipped with a message where it is missing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';

import { ColyseusSDK, type Room as ClientRoom } from '@colyseus/sdk';

import { decodeEnvelope, freePort, signToken, type FrameHeader, type RoomListing } from '../gameserver/src/index.js';
import { fixtures } from './helpers/fixtures.js';

const REDIS_BIN = process.env.REDIS_SERVER_BIN || 'redis-server';
const haveRedis = spawnSync(REDIS_BIN, ['--version'], { stdio: 'ignore' }).status === 0;
if (!haveRedis) console.warn(`gameserver_scale.test.ts: SKIPPED — ${REDIS_BIN} is not installed (Debian: apt-get install -y redis-server)`);

const SECRET = 'scale-test-secret-0123456789';

interface Proc {
  name: string;
  child: ChildProcess;
  url: string;
  port: number;
  processId: string;
  log: string;
}

interface Stats {
  server: { pid: number };
  engine: { blocks: number; batches: number };
  kv: { sessions: number };
  room: { roomId: string; players: number };
  you: { view: string };
}

interface Player {
  room: ClientRoom;
  frames: FrameHeader[];
  welcome: { view: string; reconnected: boolean }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(pred: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Start a child and resolve once its output matches `ready` (rejects on exit or timeout). */
function startChild(name: string, cmd: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; out: () => string; match: RegExpExecArray }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  return new Promise((res, rej) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`${name} did not start in 20 s:\n${out}`));
    }, 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        res({ child, out: () => out, match: m });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`${name} exited (${code}):\n${out}`));
    });
  });
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(5000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

describe(haveRedis ? 'game server scale-out over Redis (two processes)' : 'game server scale-out — SKIPPED: redis-server not installed (apt-get install -y redis-server)', () => {
  let redis: ChildProcess | undefined;
  const procs: Proc[] = [];
  const open: ClientRoom[] = [];

  async function startServer(name: string, redisUrl: string): Promise<Proc> {
    const args = ['--import', 'tsx', resolve('gameserver/src/server.ts'), '--port', '0', '--threads', '1', '--redis', redisUrl, '--list-rooms',
      '--model', resolve(fixtures, 'tiny'), '--decoder', resolve(fixtures, 'taehv_tiny')];
    const s = await startChild(`server ${name}`, process.execPath, args, /scale-out: process (\S+) \(pid/, { ...process.env, WORLDCAST_SECRET: SECRET });
    const url = /listening on (ws:\/\/\S+)/.exec(s.out())![1]!;
    const p: Proc = { name, child: s.child, url, port: Number(new URL(url).port), processId: s.match[1]!, log: '' };
    s.child.stdout!.on('data', (d: Buffer) => (p.log += d.toString()));
    s.child.stderr!.on('data', (d: Buffer) => (p.log += d.toString()));
    return p;
  }

  function sdkFor(p: Proc, sub: string): ColyseusSDK {
    const s = new ColyseusSDK(p.url);
    s.auth.token = signToken(SECRET, { sub });
    return s;
  }

  function watch(room: ClientRoom): Player {
    const pl: Player = { room, frames: [], welcome: [] };
    room.reconnection.enabled = false; // drops and reconnections are done by hand
    room.onMessage('frame', (b: Uint8Array) => pl.frames.push(decodeEnvelope(b).header));
    room.onMessage('welcome', (m: { view: string; reconnected: boolean }) => pl.welcome.push(m));
    for (const t of ['prompt', 'error', 'session_ended']) room.onMessage(t, () => undefined);
    open.push(room);
    return pl;
  }

  function stats(room: ClientRoom): Promise<Stats> {
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error('no stats reply')), 3000);
      const off = room.onMessage('stats', (m: Stats) => {
        clearTimeout(t);
        off();
        res(m);
      });
      room.send('stats');
    });
  }

  async function listing(p: Proc): Promise<{ processId: string; rooms: RoomListing[] }> {
    const r = await fetch(`http://127.0.0.1:${p.port}/worldcast/rooms`);
    expect(r.status).toBe(200);
    return (await r.json()) as { processId: string; rooms: RoomListing[] };
  }

  const byPid = (pid: number) => procs.find((p) => p.child.pid === pid);
  const byProcessId = (id: string) => procs.find((p) => p.processId === id);

  beforeAll(async () => {
    if (!haveRedis) return;
    const redisPort = await freePort();
    const r = await startChild('redis-server', REDIS_BIN, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], /Ready to accept connections/);
    redis = r.child;
    const url = `redis://127.0.0.1:${redisPort}`;
    // One after the other: each process registers with the matchmaker (Redis) as it starts.
    procs.push(await startServer('A', url));
    procs.push(await startServer('B', url));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(open.filter((r) => r.connection?.isOpen).map((r) => Promise.race([r.leave(), sleep(500)])));
    await Promise.all(procs.map((p) => stop(p.child)));
    await stop(redis);
  }, 30_000);

  it.skipIf(!haveRedis)('spreads rooms over both processes, lists and joins them through either, and streams frames from each engine', async () => {
    const [A, B] = procs as [Proc, Proc];
    expect(A.processId).not.toBe(B.processId);

    // Four rooms, all created through A's matchmaker: the least-loaded selection puts them
    // on A and B in turn; each client is connected to the process hosting its room.
    const owners: Player[] = [];
    for (let i = 0; i < 4; i++) owners.push(watch(await sdkFor(A, `owner-${i}`).create('world')));
    const hosts: Proc[] = [];
    for (const o of owners) {
      const st = await stats(o.room);
      expect(st.room.roomId).toBe(o.room.roomId);
      hosts.push(byPid(st.server.pid)!);
    }
    expect(hosts.map((h) => h?.name)).toEqual(['A', 'B', 'A', 'B']);

    // B's matchmaker lists all four, each with its own process and public address.
    const listed = await listing(B);
    expect(listed.processId).toBe(B.processId);
    for (const [i, o] of owners.entries()) {
      const l = listed.rooms.find((r) => r.roomId === o.room.roomId);
      expect(l, `room ${i} listed by B`).toBeDefined();
      expect(l!.name).toBe('world');
      expect(byProcessId(l!.processId)).toBe(hosts[i]);
      expect(l!.publicAddress).toBe(`127.0.0.1:${hosts[i]!.port}`);
    }
    expect((await listing(A)).rooms.map((r) => r.roomId).sort()).toEqual(listed.rooms.map((r) => r.roomId).sort());

    // joinById across processes: through B into a room hosted by A, and through A into one hosted by B.
    const guestOnA = watch(await sdkFor(B, 'guest-a').joinById(owners[0]!.room.roomId));
    const guestOnB = watch(await sdkFor(A, 'guest-b').joinById(owners[1]!.room.roomId));
    for (const [g, host, owner] of [[guestOnA, A, owners[0]!], [guestOnB, B, owners[1]!]] as const) {
      const st = await stats(g.room);
      expect(st.server.pid).toBe(host.child.pid); // connected to the hosting process, not the one that matched it
      expect(st.room.roomId).toBe(owner.room.roomId);
      expect(st.room.players).toBe(2);
      await until(() => g.welcome.length > 0, 'welcome');
      expect(g.welcome[0]!.view).not.toBe(owners[0]!.welcome[0]?.view); // private mode: a world of its own
    }

    // Frames flow in every room, in order, from both processes.
    const everyone = [...owners, guestOnA, guestOnB];
    await until(() => everyone.every((p) => p.frames.length >= 24), '24 frames for every client', 15_000);
    for (const p of everyone) {
      for (let i = 1; i < p.frames.length; i++) expect(p.frames[i]!.seq).toBe(p.frames[i - 1]!.seq + 1);
      expect(p.frames.at(-1)!.dropped).toBe(0);
    }

    // Each process has its own engine: it holds (and steps) only the sessions of its rooms.
    const sa = await stats(owners[0]!.room);
    const sb = await stats(owners[1]!.room);
    expect(sa.server.pid).not.toBe(sb.server.pid);
    expect(sa.kv.sessions).toBe(3); // owners 0 and 2 + guest-a
    expect(sb.kv.sessions).toBe(3); // owners 1 and 3 + guest-b
    expect(sa.engine.blocks).toBeGreaterThan(0);
    expect(sb.engine.blocks).toBeGreaterThan(0);

    // The listing follows the joins (clients per room, across processes).
    const after = await listing(A);
    expect(after.rooms.find((r) => r.roomId === owners[0]!.room.roomId)!.clients).toBe(2);
    expect(after.rooms.find((r) => r.roomId === owners[3]!.room.roomId)!.clients).toBe(1);
  }, 30_000);

  it.skipIf(!haveRedis)('sends a reconnection matched by the other process back to the room’s process, with the same world', async () => {
    const [A, B] = procs as [Proc, Proc];
    // A room on B (the previous test left A and B even; ties go to the matching process).
    const c = watch(await sdkFor(B, 'dropper').create('world'));
    const st = await stats(c.room);
    const host = byPid(st.server.pid)!;
    const other = host === A ? B : A;
    await until(() => c.frames.length >= 12 && c.welcome.length > 0, 'frames before the drop');
    const token = c.room.reconnectionToken;
    const view = c.welcome[0]!.view;
    const last = c.frames.at(-1)!;
    await c.room.leave(false); // the socket drops without a leave message
    await sleep(300);

    const back = watch(await new ColyseusSDK(other.url).reconnect(token)); // matched by the process NOT hosting it
    expect(back.room.sessionId).toBe(c.room.sessionId);
    const st2 = await stats(back.room);
    expect(st2.server.pid).toBe(host.child.pid);
    expect(st2.you.view).toBe(view); // same world session (its KV stays in the hosting process)
    await until(() => back.welcome.length > 0 && back.frames.length >= 12, 'frames after reconnecting');
    expect(back.welcome[0]).toMatchObject({ view, reconnected: true });
    expect(back.frames[0]!.view).toBe(view);
    // it goes on where it was: the rest of a block being paced out, or the next block
    const first = back.frames[0]!;
    expect(first.block > last.block || (first.block === last.block && first.frame > last.frame)).toBe(true);
    await back.room.leave();
  }, 30_000);

  it.skipIf(!haveRedis)('leaves a crashed process out of the listing and creates new rooms on the ones left, without waiting for it', async () => {
    const [A, B] = procs as [Proc, Proc];
    const onB = watch(await sdkFor(B, 'last-on-b').create('world')); // A and B even: a tie goes to the process asked
    expect((await stats(onB.room)).server.pid).toBe(B.child.pid);
    let left: number | null = null;
    onB.room.onLeave((code: number) => (left = code));
    const exited = once(B.child, 'exit');
    B.child.kill('SIGKILL'); // a crash: no graceful shutdown, its rooms and counters stay in Redis
    await exited;
    await until(() => left !== null, "B's client cut off");
    await sleep(100);
    const rooms = (await listing(A)).rooms;
    expect(rooms.length).toBeGreaterThan(0);
    expect(rooms.every((r) => r.processId === A.processId)).toBe(true);
    // B hosts no players any more but has no IPC channel either: not picked (no 2 s IPC timeout).
    const t0 = Date.now();
    const c = watch(await sdkFor(A, 'after-b').create('world'));
    expect(Date.now() - t0).toBeLessThan(1500);
    expect((await stats(c.room)).server.pid).toBe(A.child.pid);
    await until(() => c.frames.length >= 12, 'frames from A');
    await c.room.leave();
  }, 30_000);
});

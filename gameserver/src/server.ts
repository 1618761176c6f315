/**
 * A ready-made Colyseus server with WorldRooms, and the `npm run server` entry:
 *
 *   npm run server -- [--port 2567] [--host 127.0.0.1] [--model DIR] [--decoder DIR|none]
 *                     [--mode private|shared] [--threads N] [--secret S | --no-auth]
 *                     [--redis redis://HOST:PORT] [--public-address HOST:PORT] [--list-rooms]
 *
 * Defaults to the default world model (the package's models/default) and the decoder it names. Prints the URL and,
 * when no secret was given, a random one plus a token a client can join with.
 *
 * Scale-out: start several of these with the same `--redis` (or WORLDCAST_REDIS_URL). Each
 * process loads its own engine; Colyseus' Redis presence and driver make every process'
 * matchmaker see (and reserve seats in) the rooms of all of them, new rooms go to the least
 * loaded process, and a client is sent to the process that hosts its room (`publicAddress`).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';

import { Server, createEndpoint, createRouter, matchMaker, type IRoomCache, type MatchMakerDriver, type Presence } from '@colyseus/core';
import { WebSocketTransport } from '@colyseus/ws-transport';

import { signToken } from './auth.js';
import { checkDecoderPrecision } from '../../sdk/src/decoder.js';
import { denoisingStepsArg } from '../../sdk/src/model.js';
import { defaultModelDir } from '../../sdk/src/index.js';
import { WorldEngine, type EngineOptions } from './engine.js';
import { worldMetrics } from './metrics.js';
import { PhysicsWorld } from '../../world/src/physics.js';
import { defaultLevel } from '../../world/src/levels/index.js';
import { KEY_BITS } from '../../world/src/keys.js';
import { WorldRoom, type WorldRoomOptions } from './room.js';

export interface WorldServerOptions {
  /** Port (0 = a free one; default 2567). */
  port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Room definitions: name → options (default: `world` (private) and `world-shared`). */
  rooms?: Record<string, WorldRoomOptions>;
  /** The room class (default WorldRoom). */
  roomClass?: typeof WorldRoom;
  /** Model to load once and share when a room's options name no engine. */
  model?: EngineOptions;
  /** Largest client message in bytes (default 16 KiB; bigger ones close the connection). */
  maxPayload?: number;
  /** Let Colyseus handle SIGINT/SIGTERM (default false). */
  gracefullyShutdown?: boolean;
  /**
   * Multi-process: the Redis URL every process of the deployment shares (`redis://host:port/db`).
   * Sets Colyseus' `RedisPresence` (pub/sub, IPC between processes) and `RedisDriver` (the room
   * listing), so this process' matchmaker sees, lists and reserves seats in the rooms of all of
   * them. Default: the `WORLDCAST_REDIS_URL` environment variable; `false` or unset = one process
   * (local presence and driver).
   */
  redis?: string | false;
  /**
   * Where clients reach *this* process (`host:port`, or `host/path` behind a proxy; no scheme):
   * seat reservations for its rooms carry it, so a client matched by another process connects
   * here. Default with Redis: `<host>:<port>` (the machine's hostname when listening on all
   * interfaces). Without Redis: none (clients use the address they matched on).
   */
  publicAddress?: string;
  /**
   * Which process creates a new room: `'least-loaded'` (default; {@link leastLoadedProcess}),
   * `'colyseus'` (Colyseus' own: fewest rooms by counters that are written at most once a
   * second) or your own callback (e.g. one that weighs free KV memory per process).
   */
  selectProcess?: 'least-loaded' | 'colyseus' | SelectProcess;
  /** Serve `GET /worldcast/rooms`: the listed rooms of every live process ({@link listRooms}; default false). */
  roomListing?: boolean;
  /**
   * Serve the process's Prometheus metrics (text exposition, prom-client) at this HTTP path
   * of the server's port (default `/metrics`); false: not served.
   */
  metricsPath?: string | false;
}

/** Picks the process (by Colyseus processId) that creates a new room. */
export type SelectProcess = (roomName: string, clientOptions: unknown) => Promise<string>;

export interface WorldServer {
  server: Server;
  engine: WorldEngine;
  port: number;
  url: string;
  /** This process' Colyseus processId (room listings name their process by it). */
  processId: string;
  /** The address seat reservations for this process' rooms carry (undefined without one). */
  publicAddress: string | undefined;
  /** The Redis URL presence and driver use (undefined: single process). */
  redis: string | undefined;
  close(): Promise<void>;
}

/** A room as `GET /worldcast/rooms` and {@link listRooms} describe it. */
export interface RoomListing {
  roomId: string;
  name: string;
  processId: string;
  publicAddress?: string;
  clients: number;
  maxClients: number;
  locked: boolean;
}

/** A free TCP port on the loopback interface. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, host, () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(port));
    });
  });
}

/**
 * `selectProcessIdToCreateRoom` for world rooms: of the live processes (registered with the
 * matchmaker and subscribed to their IPC channel now: a process that stopped or died has
 * none), the one hosting the fewest players, counting a room not yet joined as one, read from
 * the driver's room listing at the moment of the request; ties go to the fewest rooms, then to
 * this process (no IPC round trip). Colyseus' default ranks by room counters each process
 * writes at most once a second, so a burst of creations would all land on one process, and
 * keeps ranking a stopped process until a request to it times out.
 */
export async function leastLoadedProcess(): Promise<string> {
  const [procs, live, rooms] = await Promise.all([matchMaker.stats.fetchAll(), liveProcesses(), matchMaker.driver.query({})]);
  const load = new Map<string, { players: number; rooms: number }>();
  load.set(matchMaker.processId, { players: 0, rooms: 0 });
  for (const p of procs) if (!live || live.has(p.processId)) load.set(p.processId, { players: 0, rooms: 0 });
  for (const r of rooms) {
    const l = load.get(r.processId);
    if (!l) continue; // a process that is gone
    l.rooms++;
    l.players += Math.max(1, r.clients);
  }
  let best = matchMaker.processId;
  let bl = load.get(best)!;
  for (const [id, l] of load) {
    if (l.players < bl.players || (l.players === bl.players && l.rooms < bl.rooms)) {
      best = id;
      bl = l;
    }
  }
  return best;
}

/**
 * The processes whose matchmaker IPC channel is subscribed now (Colyseus' own liveness test):
 * one that stopped, or died without cleaning up after itself, has none. Where the channel
 * list cannot be trusted (it lacks this very process' channel: e.g. a Redis Cluster, whose
 * PUBSUB CHANNELS answers for one node), every registered process counts as live.
 */
async function liveProcesses(): Promise<Set<string> | null> {
  const channels = await matchMaker.presence.channels('p:*');
  const live = new Set(channels.map((c) => c.slice(2)));
  return live.has(matchMaker.processId) ? live : null;
}

/**
 * The listed rooms of every live process (from the matchmaker's driver: Redis when scaled
 * out). Rooms of a process that died stay in the driver until a request to it times out or a
 * process starts; they are left out here.
 */
export async function listRooms(name?: string): Promise<RoomListing[]> {
  const [all, live] = await Promise.all([matchMaker.query(name ? { name } : {}) as Promise<IRoomCache[]>, liveProcesses()]);
  return all
    .filter((r) => !r.private && !r.unlisted && (!live || live.has(r.processId)))
    .map((r) => ({
      roomId: r.roomId,
      name: r.name,
      processId: r.processId,
      ...(r.publicAddress ? { publicAddress: r.publicAddress } : {}),
      clients: r.clients,
      maxClients: r.maxClients,
      locked: !!r.locked,
    }));
}

/** Colyseus' Redis presence + driver, loaded only when asked for. */
async function redisBackends(url: string): Promise<{ presence: Presence; driver: MatchMakerDriver }> {
  const [{ RedisPresence }, { RedisDriver }] = await Promise.all([import('@colyseus/redis-presence'), import('@colyseus/redis-driver')]);
  return { presence: new RedisPresence(url), driver: new RedisDriver(url) };
}

/**
 * Compile the physics engine (rapier's WebAssembly) before serving, with V8's optimizing
 * compiler from the start (`--no-liftoff`) instead of its baseline compiler with optimizing
 * tier-up later. Tier-up runs on a V8 background thread: with the default the first room's
 * first ~4 s had one of this 2-core machine's cores ~70% busy compiling physics code, next to
 * the engine's two compute threads, and the first player's blocks took 3–10× their time
 * (`npm run load -- --clients 1 --duration 8`, default model: input-to-frame p50 315–393 ms,
 * p99 830–1,510 ms over three runs; with this, p50 176 ms, p99 354 ms). Once per process:
 * the flag and the compiled code hold for the rest of it.
 */
let physicsCompiled: Promise<void> | undefined;
function compilePhysics(): Promise<void> {
  physicsCompiled ??= compilePhysicsOnce();
  return physicsCompiled;
}
async function compilePhysicsOnce(): Promise<void> {
  // For the rest of the process: V8 compiles WebAssembly functions lazily, at their first call.
  setFlagsFromString('--no-liftoff');
  // So the first calls happen here, not in the first room's onCreate and ticks (which then
  // took long enough for a matchmaker request from another process to time out): a throwaway
  // world of the default level, two characters walking, turning, jumping into each other.
  const world = await PhysicsWorld.create(defaultLevel);
  try {
    const a = world.addCharacter();
    const b = world.addCharacter();
    for (let t = 0; t < 90; t++) {
      a.step({ keys: t < 45 ? KEY_BITS.w : KEY_BITS.s | KEY_BITS.space, lookX: 0.01, lookY: 0 }, 1 / 30);
      b.step({ keys: KEY_BITS.a | KEY_BITS.w, lookX: -0.01, lookY: 0.002 }, 1 / 30);
      world.step(1 / 30);
    }
  } finally {
    world.free();
  }
}

/** Compile the physics, load the engine, define the rooms and listen. */
export async function startWorldServer(opts: WorldServerOptions = {}): Promise<WorldServer> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port === 0 ? await freePort(host) : (opts.port ?? 2567);
  const redis = opts.redis === false ? undefined : opts.redis || process.env.WORLDCAST_REDIS_URL || undefined;
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  const publicAddress = opts.publicAddress ?? (redis ? `${wildcard ? hostname() : host.includes(':') ? `[${host}]` : host}:${port}` : undefined);
  await compilePhysics();
  const engine = await WorldEngine.shared(opts.model ?? { modelDir: defaultModelDir() });
  const backends = redis ? await redisBackends(redis) : {};
  const select = opts.selectProcess ?? 'least-loaded';
  const server = new Server({
    transport: new WebSocketTransport({ maxPayload: opts.maxPayload ?? 16 * 1024 }),
    greet: false,
    gracefullyShutdown: opts.gracefullyShutdown ?? false,
    ...backends,
    publicAddress,
    selectProcessIdToCreateRoom: select === 'colyseus' ? undefined : select === 'least-loaded' ? leastLoadedProcess : select,
  });
  const endpoints: Record<string, ReturnType<typeof createEndpoint>> = {};
  if (opts.roomListing) {
    endpoints.worldcastRooms = createEndpoint('/worldcast/rooms', { method: 'GET' }, async () => {
      const json = JSON.stringify({ processId: matchMaker.processId, rooms: await listRooms() });
      return new Response(json, { headers: { 'content-type': 'application/json' } });
    });
  }
  const metricsPath = opts.metricsPath ?? '/metrics';
  if (metricsPath !== false) {
    if (!metricsPath.startsWith('/') || metricsPath.startsWith('/matchmake')) throw new Error(`metricsPath must be an absolute path outside /matchmake, not ${metricsPath}`);
    endpoints.worldcastMetrics = createEndpoint(metricsPath, { method: 'GET' }, async () => {
      const body = await worldMetrics.text();
      // content-length set: Colyseus' node adapter stalls on a chunked body of this size
      return new Response(body, { headers: { 'content-type': worldMetrics.contentType, 'content-length': String(Buffer.byteLength(body)) } });
    });
  }
  if (Object.keys(endpoints).length > 0) server.router = createRouter(endpoints);
  const rooms = opts.rooms ?? { world: { mode: 'private' }, 'world-shared': { mode: 'shared' } };
  const cls = opts.roomClass ?? WorldRoom;
  for (const [name, o] of Object.entries(rooms)) server.define(name, cls, o.engine || o.model ? o : { ...o, engine });
  await server.listen(port, host);
  return {
    server,
    engine,
    port,
    url: `ws://${host}:${port}`,
    processId: matchMaker.processId,
    publicAddress,
    redis,
    close: async () => {
      await server.gracefullyShutdown(false);
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '2567' },
      host: { type: 'string', default: '127.0.0.1' },
      model: { type: 'string', default: defaultModelDir() },
      decoder: { type: 'string' },
      mode: { type: 'string', default: 'private' },
      threads: { type: 'string' },
      'decoder-threads': { type: 'string' },
      'decoder-precision': { type: 'string' },
      weights: { type: 'string' },
      secret: { type: 'string' },
      'no-auth': { type: 'boolean', default: false },
      codec: { type: 'string', default: 'auto' },
      'max-batch': { type: 'string' },
      'block-frames': { type: 'string' },
      'denoising-steps': { type: 'string' },
      redis: { type: 'string' },
      'public-address': { type: 'string' },
      'list-rooms': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      'npm run server -- [--port 2567 (0: a free one)] [--host 127.0.0.1] [--model DIR] [--decoder DIR|none] [--mode private|shared] [--threads N] [--decoder-threads N] [--decoder-precision f32|bf16] [--weights f32|bf16|int8] [--secret S | --no-auth] [--codec auto|jpeg|raw] [--max-batch N] [--block-frames auto|N] [--denoising-steps 1000,500]\n' +
        '                  [--redis redis://HOST:PORT (or WORLDCAST_REDIS_URL): several processes share rooms] [--public-address HOST:PORT] [--list-rooms (GET /worldcast/rooms)]',
    );
    return;
  }
  const mode = values.mode === 'shared' ? 'shared' : 'private';
  const generated = !values.secret && !process.env.WORLDCAST_SECRET;
  const secret = values.secret ?? process.env.WORLDCAST_SECRET ?? randomBytes(24).toString('base64url');
  const auth: WorldRoomOptions['auth'] = values['no-auth'] ? false : { secret };
  const codec = values.codec as WorldRoomOptions['codec'];
  const blockFrames = blockFramesArg(values['block-frames']);
  const ws = await startWorldServer({
    port: Number(values.port),
    host: values.host,
    model: {
      modelDir: resolve(values.model),
      decoderDir: values.decoder === 'none' ? null : values.decoder === undefined ? undefined : resolve(values.decoder),
      threads: values.threads ? Number(values.threads) : undefined,
      decoderThreads: values['decoder-threads'] ? Number(values['decoder-threads']) : undefined,
      maxBatch: values['max-batch'] ? Number(values['max-batch']) : undefined,
      weights: weightsArg(values.weights),
      decoderPrecision: checkDecoderPrecision(values['decoder-precision'], '--decoder-precision'), // default: the engine's
      denoisingSteps: denoisingStepsArg(values['denoising-steps'], '--denoising-steps'), // default: the model's
    },
    rooms: { world: { mode, auth, codec, blockFrames }, 'world-shared': { mode: 'shared', auth, codec, blockFrames } },
    gracefullyShutdown: true,
    redis: values.redis,
    publicAddress: values['public-address'],
    roomListing: values['list-rooms'],
  });
  const info = ws.engine.model.info();
  console.log(`worldcast game server listening on ${ws.url}  (rooms: "world" [${mode}], "world-shared")`);
  const dec = ws.engine.decoder?.info();
  console.log(`model ${info.dir} (${info.isa}, ${info.threads} threads), decoder ${dec ? `${dec.dir} (${dec.precision})` : 'none (latent previews)'}`);
  if (ws.redis) console.log(`scale-out: process ${ws.processId} (pid ${process.pid}), presence + driver on ${redactUrl(ws.redis)}, public address ${ws.publicAddress}`);
  else console.log(`single process ${ws.processId} (pid ${process.pid}); pass --redis to share rooms with other processes`);
  if (values['list-rooms']) console.log(`room listing: GET http://${values.host}:${ws.port}/worldcast/rooms`);
  console.log(`metrics (Prometheus): GET http://${values.host}:${ws.port}/metrics`);
  if (values['no-auth']) console.log('auth: off');
  else {
    if (generated) console.log(`auth: HMAC secret (generated; set WORLDCAST_SECRET to fix it): ${secret}`);
    console.log(`a token to join with (1 h): ${signToken(secret, { sub: 'dev', ttlSeconds: 3600 })}`);
  }
}

/** The --block-frames flag: 'auto' (the rooms' default: the fewest frames the engine keeps up with) or a fixed size. */
function blockFramesArg(v: string | undefined): WorldRoomOptions['blockFrames'] {
  if (v === undefined || v === 'auto') return v;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--block-frames must be auto or a positive integer, not ${v}`);
  return n;
}

/** The --weights flag: the linear layers' storage (default: the engine's, defaultServerWeights). */
function weightsArg(v: string | undefined): EngineOptions['weights'] {
  if (v === undefined) return undefined;
  if (v === 'f32' || v === 'bf16' || v === 'int8') return v;
  throw new Error(`--weights must be f32, bf16 or int8, not ${v}`);
}

/** A Redis URL without its password, for logs. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}

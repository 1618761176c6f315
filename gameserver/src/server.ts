/**
 * A ready-made Colyseus server with WorldRooms, and the `npm run server` entry:
 *
 *   npm run server -- [--port 2567] [--host 127.0.0.1] [--model DIR] [--decoder DIR|none]
 *                     [--mode private|shared] [--threads N] [--secret S | --no-auth]
 *
 * Defaults to the tiny test model (test/fixtures/tiny) and its decoder. Prints the URL and,
 * when no secret was given, a random one plus a token a client can join with.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { Server } from '@colyseus/core';
import { WebSocketTransport } from '@colyseus/ws-transport';

import { signToken } from './auth.js';
import { WorldEngine, type EngineOptions } from './engine.js';
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
}

export interface WorldServer {
  server: Server;
  engine: WorldEngine;
  port: number;
  url: string;
  close(): Promise<void>;
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

/** Load the engine, define the rooms and listen. */
export async function startWorldServer(opts: WorldServerOptions = {}): Promise<WorldServer> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port === 0 ? await freePort(host) : (opts.port ?? 2567);
  const engine = await WorldEngine.shared(opts.model ?? { modelDir: 'test/fixtures/tiny', decoderDir: 'test/fixtures/taehv_tiny' });
  const server = new Server({
    transport: new WebSocketTransport({ maxPayload: opts.maxPayload ?? 16 * 1024 }),
    greet: false,
    gracefullyShutdown: opts.gracefullyShutdown ?? false,
  });
  const rooms = opts.rooms ?? { world: { mode: 'private' }, 'world-shared': { mode: 'shared' } };
  const cls = opts.roomClass ?? WorldRoom;
  for (const [name, o] of Object.entries(rooms)) server.define(name, cls, o.engine || o.model ? o : { ...o, engine });
  await server.listen(port, host);
  return {
    server,
    engine,
    port,
    url: `ws://${host}:${port}`,
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
      model: { type: 'string', default: 'test/fixtures/tiny' },
      decoder: { type: 'string', default: 'test/fixtures/taehv_tiny' },
      mode: { type: 'string', default: 'private' },
      threads: { type: 'string' },
      secret: { type: 'string' },
      'no-auth': { type: 'boolean', default: false },
      codec: { type: 'string', default: 'auto' },
      'max-batch': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('npm run server -- [--port 2567] [--host 127.0.0.1] [--model DIR] [--decoder DIR|none] [--mode private|shared] [--threads N] [--secret S | --no-auth] [--codec auto|jpeg|raw] [--max-batch N]');
    return;
  }
  const mode = values.mode === 'shared' ? 'shared' : 'private';
  const generated = !values.secret && !process.env.WORLDCAST_SECRET;
  const secret = values.secret ?? process.env.WORLDCAST_SECRET ?? randomBytes(24).toString('base64url');
  const auth: WorldRoomOptions['auth'] = values['no-auth'] ? false : { secret };
  const codec = values.codec as WorldRoomOptions['codec'];
  const ws = await startWorldServer({
    port: Number(values.port),
    host: values.host,
    model: {
      modelDir: resolve(values.model),
      decoderDir: values.decoder === 'none' ? null : resolve(values.decoder),
      threads: values.threads ? Number(values.threads) : undefined,
      maxBatch: values['max-batch'] ? Number(values['max-batch']) : undefined,
    },
    rooms: { world: { mode, auth, codec }, 'world-shared': { mode: 'shared', auth, codec } },
    gracefullyShutdown: true,
  });
  const info = ws.engine.model.info();
  console.log(`worldcast game server listening on ${ws.url}  (rooms: "world" [${mode}], "world-shared")`);
  console.log(`model ${info.dir} (${info.isa}, ${info.threads} threads), decoder ${ws.engine.decoder ? ws.engine.decoder.info().dir : 'none (latent previews)'}`);
  if (values['no-auth']) console.log('auth: off');
  else {
    if (generated) console.log(`auth: HMAC secret (generated; set WORLDCAST_SECRET to fix it): ${secret}`);
    console.log(`a token to join with (1 h): ${signToken(secret, { sub: 'dev', ttlSeconds: 3600 })}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}

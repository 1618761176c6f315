/**
 * `npm run demo`: build the web client (Vite), start the game server with the default
 * world model (models/default: a world model of the game's own level, with its decoder),
 * serve the page over HTTP on localhost, print the URL. Ctrl-C stops everything.
 *
 *   npm run demo -- [--port 8080] [--server-port 2567] [--model DIR] [--decoder DIR|none] [--threads N]  [--block-frames auto|N] [--decoder-precision f32|bf16]
 *                   [--codec auto|jpeg|raw] [--no-build]
 *
 * The page joins the `world` room (one private world per player); `?room=world-shared` joins
 * the shared one (one world for everybody in the room, driven by the first player).
 * `?roomId=<id>&spectate=<sessionId>` watches a player's world; the page's mode picker sets these.
 *
 * The page gets its join token from `GET /token` ({token, endpoint}): this demo signs
 * short-lived HMAC tokens with a secret it generates at start (a real deployment's login
 * service would do that with the shared WORLDCAST_SECRET).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { WorldEngine, WorldRoom, signToken, startWorldServer, type WorldRoomOptions, type WorldServer } from '../../gameserver/src/index.js';
import type { PlayerRecord } from '../../gameserver/src/index.js';
import { checkDecoderPrecision } from '../../sdk/src/decoder.js';
import { denoisingStepsArg } from '../../sdk/src/model.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');

/** WorldRoom whose `stats` reply also carries the asking player's own session KV memory. */
export class DemoRoom extends WorldRoom {
  protected override statsFor(p: PlayerRecord): Record<string, unknown> {
    const out = super.statsFor(p);
    const v = p.view;
    if (v && !v.closed) {
      try {
        const pages = v.session.kvPages();
        const pageBytes = this.engine.model.kvStats().pages.pageBytes;
        out.session = { kvFrames: pages.length, kvBytes: pages.length * pageBytes, sharedPages: pages.filter((x) => x.refs > 1).length };
      } catch {
        /* the session is closing */
      }
    }
    return out;
  }
}

export interface DemoOptions {
  /** HTTP port of the page (0 = a free one; default 8080). */
  port?: number;
  /** Game server port (0 = a free one; default 2567). */
  serverPort?: number;
  host?: string;
  modelDir?: string;
  decoderDir?: string | null;
  threads?: number;
  /** The rooms' block size: 'auto' (default: the fewest frames the engine keeps up with) or a fixed number of latent frames. */
  blockFrames?: number | 'auto';
  /** Decoder arithmetic (default: the engine's, bf16 where the CPU has bf16 dot products). */
  decoderPrecision?: 'f32' | 'bf16';
  /** The sampler's timesteps instead of the model's (loadModel's `denoisingSteps`). */
  denoisingSteps?: number[];
  /** Build the client with Vite first (default true); else serve what `outDir` holds. */
  build?: boolean;
  outDir?: string;
  /** Extra options of the rooms (codec, tick rate, grace period, ...). */
  room?: Partial<WorldRoomOptions>;
  /** More room types to define besides `world` and `world-shared` (they get the demo's auth). */
  extraRooms?: Record<string, WorldRoomOptions>;
}

export interface Demo {
  url: string;
  world: WorldServer;
  http: HttpServer;
  secret: string;
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
};

/** Build the page into `outDir` with Vite. */
export async function buildClient(outDir = join(here, 'dist')): Promise<string> {
  const { build } = await import('vite');
  await build({ root: here, configFile: false, logLevel: 'warn', base: './', build: { outDir, emptyOutDir: true, target: 'es2022' } });
  return outDir;
}

/** Start the game server and the page's HTTP server. */
export async function startDemo(opts: DemoOptions = {}): Promise<Demo> {
  const host = opts.host ?? '127.0.0.1';
  const outDir = opts.outDir ?? join(here, 'dist');
  if (opts.build !== false) await buildClient(outDir);
  if (!existsSync(join(outDir, 'index.html'))) throw new Error(`no built client in ${outDir} (run without --no-build)`);
  const secret = randomBytes(24).toString('base64url');
  const auth = { secret };
  const world = await startWorldServer({
    port: opts.serverPort ?? 2567,
    host,
    roomClass: DemoRoom,
    model: {
      modelDir: resolve(repo, opts.modelDir ?? 'models/default'),
      // undefined: the decoder the model names (models/default/decoder)
      decoderDir: opts.decoderDir === null ? null : opts.decoderDir === undefined ? undefined : resolve(repo, opts.decoderDir),
      threads: opts.threads,
      decoderPrecision: opts.decoderPrecision,
      denoisingSteps: opts.denoisingSteps,
    },
    rooms: {
      world: { mode: 'private', auth, blockFrames: opts.blockFrames, ...opts.room },
      'world-shared': { mode: 'shared', auth, blockFrames: opts.blockFrames, ...opts.room },
      ...Object.fromEntries(Object.entries(opts.extraRooms ?? {}).map(([k, o]) => [k, { ...o, auth }])),
    },
  });

  const root = resolve(outDir);
  const http = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/token') {
      const token = signToken(secret, { sub: `web-${randomBytes(6).toString('hex')}`, ttlSeconds: 3600 });
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ token, endpoint: world.url }));
      return;
    }
    let file: string;
    try {
      file = normalize(join(root, decodeURIComponent(path === '/' ? '/index.html' : path)));
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (!(file === root || file.startsWith(root + sep)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : readFileSync(file));
  });
  const port = opts.port ?? 8080;
  await new Promise<void>((res, rej) => {
    http.once('error', rej);
    http.listen(port, host, () => res());
  });
  const a = http.address();
  const httpPort = typeof a === 'object' && a ? a.port : port;
  let closed = false;
  return {
    url: `http://${host}:${httpPort}/`,
    world,
    http,
    secret,
    close: async () => {
      if (closed) return;
      closed = true;
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
      await world.close();
      await WorldEngine.closeShared();
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8080' },
      'server-port': { type: 'string', default: '2567' },
      model: { type: 'string' },
      decoder: { type: 'string' },
      threads: { type: 'string' },
      'block-frames': { type: 'string' },
      'decoder-precision': { type: 'string' },
      'denoising-steps': { type: 'string' },
      codec: { type: 'string', default: 'auto' },
      'no-build': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('npm run demo -- [--port 8080] [--server-port 2567] [--model DIR] [--decoder DIR|none] [--threads N] [--block-frames auto|N] [--decoder-precision f32|bf16] [--denoising-steps 1000,500] [--codec auto|jpeg|raw] [--no-build]');
    return;
  }
  if (!values['no-build']) console.log('building the web client (vite)…');
  const demo = await startDemo({
    port: Number(values.port),
    serverPort: Number(values['server-port']),
    modelDir: values.model,
    decoderDir: values.decoder === 'none' ? null : values.decoder,
    threads: values.threads ? Number(values.threads) : undefined,
    blockFrames: values['block-frames'] === undefined || values['block-frames'] === 'auto' ? values['block-frames'] : Number(values['block-frames']),
    decoderPrecision: checkDecoderPrecision(values['decoder-precision'], '--decoder-precision'),
    denoisingSteps: denoisingStepsArg(values['denoising-steps'], '--denoising-steps'),
    build: !values['no-build'],
    room: { codec: values.codec as WorldRoomOptions['codec'] },
  });
  console.log(`game server: ${demo.world.url}`);
  console.log(`open ${demo.url} to play (WASD + mouse, Enter for a prompt); Ctrl-C stops`);
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) {
      process.exit(1); // a second Ctrl-C: do not wait
    }
    stopping = true;
    console.log(`\n${sig}: stopping…`);
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    demo.close().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(e);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}

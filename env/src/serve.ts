/**
 * `npm run env-server -- [--stdio | --port 8765] [--model models/default] [--threads N]`:
 * serve agent environments over the msgpack protocol (./protocol.ts) on stdio (length-prefixed
 * messages; logs go to stderr) or a WebSocket port. Requests are answered in order.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

import { WebSocketServer } from 'ws';

import { defaultModelDir } from '../../sdk/src/package_root.js';
import { EnvServer, MAX_MESSAGE } from './protocol.js';

/** Split a byte stream into length-prefixed messages (uint32 LE length, then the payload). */
export class FrameReader {
  #buf = Buffer.alloc(0);
  /** Feed bytes; returns the complete messages. Throws on a length over {@link MAX_MESSAGE}. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : Buffer.from(chunk);
    const out: Uint8Array[] = [];
    while (this.#buf.length >= 4) {
      const n = this.#buf.readUInt32LE(0);
      if (n > MAX_MESSAGE) throw new Error(`message length ${n} exceeds ${MAX_MESSAGE}`);
      if (this.#buf.length < 4 + n) break;
      out.push(this.#buf.subarray(4, 4 + n));
      this.#buf = this.#buf.subarray(4 + n);
    }
    return out;
  }
}

/** A message with its length prefix. */
export function frame(payload: Uint8Array): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32LE(payload.byteLength, 0);
  return Buffer.concat([head, payload]);
}

/** Serve on stdin/stdout until stdin ends. */
export async function serveStdio(server: EnvServer, input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stdout): Promise<void> {
  const reader = new FrameReader();
  let chain = Promise.resolve();
  await new Promise<void>((done) => {
    input.on('data', (chunk: Buffer) => {
      let msgs: Uint8Array[];
      try {
        msgs = reader.push(chunk);
      } catch (e) {
        // A corrupt length prefix: the stream cannot be re-synchronised.
        process.stderr.write(`env-server: ${(e as Error).message}; closing\n`);
        input.removeAllListeners('data');
        done();
        return;
      }
      for (const m of msgs) chain = chain.then(async () => void output.write(frame(await server.handle(m))));
    });
    input.on('end', () => done());
  });
  await chain;
}

/** Serve on a WebSocket port; resolves with the server once listening. */
export function serveWebSocket(server: EnvServer, port: number, host = '127.0.0.1'): Promise<WebSocketServer> {
  return new Promise((ok, fail) => {
    const wss = new WebSocketServer({ port, host, maxPayload: MAX_MESSAGE });
    wss.on('error', fail);
    wss.on('listening', () => ok(wss));
    wss.on('connection', (ws) => {
      let chain = Promise.resolve();
      ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
        const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
        chain = chain.then(async () => {
          const reply = await server.handle(bytes);
          if (ws.readyState === ws.OPEN) ws.send(reply);
        });
      });
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { stdio: { type: 'boolean' }, port: { type: 'string' }, host: { type: 'string' }, model: { type: 'string' }, threads: { type: 'string' } },
  });
  const server = new EnvServer({ defaultModel: values.model ?? defaultModelDir(), threads: values.threads ? Number(values.threads) : undefined });
  const stop = async (): Promise<void> => {
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  if (values.stdio || !values.port) {
    await serveStdio(server);
    await server.close();
    return;
  }
  const port = Number(values.port);
  const wss = await serveWebSocket(server, port, values.host);
  process.stderr.write(`env-server: ws://${values.host ?? '127.0.0.1'}:${port}\n`);
  wss.on('close', () => void server.close());
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();

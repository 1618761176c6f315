/**
 * What `npm run load` and `npm run soak` share: a game-server child process over loopback,
 * the server's `stats` reply, and percentile/size formatting.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

import type { Room } from '@colyseus/sdk';

/** The `stats` reply of a WorldRoom (the parts the harnesses read). */
export interface ServerStats {
  server: { rss: number; heapUsed: number; pid: number };
  engine: { batches: number; blocks: number; errors: number; maxBatch: number; busySeconds: number };
  kv: { sessions: number; usedBytes: number; reservedBytes: number; budgetBytes: number };
}

export function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const mb = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start `gameserver/src/server.ts` with `args` as a child; resolves with its URL once it listens. */
export async function startChild(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve('gameserver/src/server.ts'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: process.env,
  });
  let out = '';
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`server did not start:\n${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on (ws:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res({ child, url: m[1]! });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`server exited (${code}):\n${out}`));
    });
  });
}

/** Load tools talk to this machine only. */
export function isLoopback(url: string): boolean {
  try {
    const h = new URL(url).hostname;
    return h === '127.0.0.1' || h === 'localhost' || h === '[::1]' || h === '::1';
  } catch {
    return false;
  }
}

/** Ask a room for its `stats` (null after 3 s without an answer). */
export async function requestStats(room: Room): Promise<ServerStats | null> {
  return new Promise((res) => {
    const t = setTimeout(() => res(null), 3000);
    const off = room.onMessage('stats', (m: ServerStats) => {
      clearTimeout(t);
      off();
      res(m);
    });
    room.send('stats');
  });
}


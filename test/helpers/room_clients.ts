// Real @colyseus/sdk clients of a WorldRoom in tests: what each one received (frame
// headers, messages, its close code) and small waiting helpers.
import { expect } from 'vitest';
import type { Room as ClientRoom } from '@colyseus/sdk';

import { decodeEnvelope, type FrameHeader } from '../../gameserver/src/index.js';

export interface Client {
  room: ClientRoom;
  frames: FrameHeader[];
  payloadBytes: number[];
  messages: Map<string, unknown[]>;
  leftCode: number | null;
}

export function watch(room: ClientRoom): Client {
  const c: Client = { room, frames: [], payloadBytes: [], messages: new Map(), leftCode: null };
  room.onMessage('frame', (b: Uint8Array) => {
    const { header, payload } = decodeEnvelope(b);
    c.frames.push(header);
    c.payloadBytes.push(payload.length);
  });
  for (const t of ['welcome', 'prompt', 'error', 'session_ended', 'stats', 'spectate_ended']) {
    room.onMessage(t, (m: unknown) => {
      const l = c.messages.get(t) ?? [];
      l.push(m);
      c.messages.set(t, l);
    });
  }
  room.onLeave((code: number) => {
    c.leftCode = code;
  });
  return c;
}

export async function until(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function msgs<T>(c: Client, type: string): T[] {
  return (c.messages.get(type) ?? []) as T[];
}

/** Frames arrive in order: consecutive seq numbers, blocks and frame indices increasing. */
export function expectInOrder(frames: FrameHeader[]): void {
  for (let i = 1; i < frames.length; i++) {
    const a = frames[i - 1]!;
    const b = frames[i]!;
    expect(b.seq).toBe(a.seq + 1);
    if (b.block === a.block) expect(b.frame).toBe(a.frame + 1);
    else expect(b.block).toBeGreaterThan(a.block);
  }
}


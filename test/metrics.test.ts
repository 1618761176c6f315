// The game server's Prometheus metrics: a real server (startWorldServer) over loopback, a
// real client walking, and a scrape of GET /metrics that shows what happened.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';

import { ColyseusSDK } from '@colyseus/sdk';

import { WorldEngine, signToken, startWorldServer, type WorldServer } from '../gameserver/src/index.js';
import { fixtures } from './helpers/fixtures.js';
import { until, watch } from './helpers/room_clients.js';

const SECRET = 'metrics-secret-0123456789abcdef';

/** The samples of a Prometheus text exposition: `name{labels}` → value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+?)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (m) out.set(m[1]! + (m[2] ?? ''), Number(m[3]));
  }
  return out;
}

describe('GET /metrics', () => {
  let ws: WorldServer;
  beforeAll(async () => {
    ws = await startWorldServer({
      port: 0,
      model: { modelDir: join(fixtures, 'tiny'), decoderDir: join(fixtures, 'taehv_tiny'), threads: 1 },
      rooms: { world: { auth: { secret: SECRET }, tickRate: 50, ticksPerBlock: 3 } },
    });
  });
  afterAll(async () => {
    await ws?.close();
    await WorldEngine.closeShared();
  });

  it('exposes sessions, KV bytes, blocks, step/decode/input-to-frame histograms, frames and errors', async () => {
    const sdk = new ColyseusSDK(ws.url);
    sdk.auth.token = signToken(SECRET, { sub: 'scraped' });
    const room = await sdk.joinOrCreate('world', {});
    room.reconnection.enabled = false;
    const c = watch(room);
    let seq = 0;
    const timer = setInterval(() => room.send('input', { seq: ++seq, keys: 1, dx: 0.01, dy: 0 }), 20);
    await until(() => c.frames.length >= 24 && c.frames.some((h) => h.input > 5), 'frames conditioned on inputs');
    room.send('bogus', {}); // one invalid message: counted as a violation
    await until(() => (c.messages.get('error') ?? []).length > 0, 'the error reply');
    clearInterval(timer);
    const received = c.frames.length; // before the scrape: more arrive while it runs
    const blocks = new Set(c.frames.map((h) => h.block)).size; // blocks whose frames the client saw
    const res = await fetch(`http://127.0.0.1:${ws.port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    const m = parse(text);
    const model = `{model="${ws.engine.model.info().dir}"}`;
    expect(m.get(`worldcast_sessions${model}`)).toBe(1);
    expect(m.get(`worldcast_kv_used_bytes${model}`)).toBeGreaterThan(0);
    expect(m.get(`worldcast_kv_budget_bytes${model}`)).toBe(ws.engine.model.kvStats().budgetBytes);
    expect(m.get('worldcast_blocks_total')).toBeGreaterThanOrEqual(blocks);
    expect(m.get('worldcast_batches_total')! - m.get('worldcast_step_seconds_count')!).toBeLessThanOrEqual(1); // one may be running
    expect(m.get('worldcast_batches_total')).toBeGreaterThanOrEqual(blocks);
    expect(m.get('worldcast_decode_seconds_count')).toBeGreaterThanOrEqual(blocks);
    expect(m.get('worldcast_block_frames_count')).toBeGreaterThanOrEqual(blocks);
    expect(m.get('worldcast_block_frames_sum')).toBeGreaterThanOrEqual(m.get('worldcast_block_frames_count')!); // ≥ 1 frame a block
    const load = m.get(`worldcast_engine_load${model}`)!;
    expect(load).toBeGreaterThan(0); // it has been stepping and decoding
    expect(load).toBeLessThan(2);
    expect(m.get('worldcast_input_to_frame_seconds_count')).toBeGreaterThan(0);
    expect(m.get('worldcast_input_to_frame_seconds_bucket{le="+Inf"}')).toBe(m.get('worldcast_input_to_frame_seconds_count'));
    expect(m.get('worldcast_frames_sent_total')).toBeGreaterThanOrEqual(received);
    expect(m.get('worldcast_frames_dropped_total')).toBe(0);
    expect(m.get('worldcast_frame_bytes_sent_total{part="payload"}')).toBeGreaterThan(0);
    expect(m.get('worldcast_errors_total{kind="violation"}')).toBe(1);
    expect(m.get('worldcast_players')).toBe(1);
    expect(m.get('worldcast_rooms')).toBe(1);
    expect(m.get('worldcast_process_resident_memory_bytes')).toBeGreaterThan(0);
    await room.leave();
    await until(() => ws.engine.model.kvStats().sessions === 0, 'the session freed');
    const after = parse(await (await fetch(`http://127.0.0.1:${ws.port}/metrics`)).text());
    expect(after.get(`worldcast_sessions${model}`)).toBe(0);
    expect(after.get('worldcast_players')).toBe(0);
  });
});

// Hostile clients against a WorldRoom over loopback, with real @colyseus/sdk clients and raw
// protocol frames: no message kills the process or another player's world (a '*'-typed
// message with a poisoned payload, numeric and unprintable types, poisoned join options),
// a reconnect that supersedes a live socket takes over the same world, unsafe prompt text
// never reaches room state, and per-identity seat/session caps and the join rate hold.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Protocol, Server, matchMaker } from '@colyseus/core';
import { WebSocketTransport } from '@colyseus/ws-transport';
import { ColyseusTestServer } from '@colyseus/testing';
import { ColyseusSDK, type Room as ClientRoom } from '@colyseus/sdk';
import { pack } from 'msgpackr';

import { CLOSE, LIMIT_ERRORS, WORLD_ERRORS, WorldEngine, WorldRoom, describeValue, freePort, identityLimiter, signToken, validateInput, validatePrompt, type WorldRoomOptions } from '../gameserver/src/index.js';
import { fixtures } from './helpers/fixtures.js';
import { expectInOrder, msgs, sleep, until, watch, type Client } from './helpers/room_clients.js';
import { join as pjoin } from 'node:path';

const SECRET = 'hostile-secret-0123456789abcdef';

/** A ROOM_DATA frame as the wire carries it: code, type (msgpack str or number), msgpack payload. */
function roomData(type: string | number, payload: unknown): Uint8Array {
  const t = typeof type === 'string' ? Buffer.concat([Uint8Array.of(0xa0 | Buffer.byteLength(type)), Buffer.from(type)]) : Uint8Array.of(type);
  return Buffer.concat([Uint8Array.of(Protocol.ROOM_DATA), t, payload === undefined ? Buffer.alloc(0) : pack(payload)]);
}

describe('WorldRoom against hostile clients', () => {
  let engine: WorldEngine;
  let server: Server;
  let colyseus: ColyseusTestServer;
  let sdk: ColyseusSDK;
  const open: ClientRoom[] = [];

  const base: WorldRoomOptions = { tickRate: 50, ticksPerBlock: 3, auth: { secret: SECRET }, reconnectGraceSeconds: 2, maxMessagesPerSecond: 60, maxViolations: 20 };

  function sdkFor(sub: string): ColyseusSDK {
    const s = new ColyseusSDK(sdk.settings);
    s.auth.token = signToken(SECRET, { sub });
    return s;
  }

  async function join(roomName: string, sub: string, options: Record<string, unknown> = {}): Promise<Client> {
    const room = await sdkFor(sub).joinOrCreate(roomName, options);
    room.reconnection.enabled = false;
    open.push(room);
    return watch(room);
  }

  function serverRoom(c: Client): WorldRoom {
    return colyseus.getRoomById(c.room.roomId) as unknown as WorldRoom;
  }

  beforeAll(async () => {
    engine = await WorldEngine.load({ modelDir: pjoin(fixtures, 'tiny'), decoderDir: pjoin(fixtures, 'taehv_tiny'), threads: 1 });
    server = new Server({ transport: new WebSocketTransport({ maxPayload: 16 * 1024 }), greet: false, gracefullyShutdown: false });
    server.define('world', WorldRoom, { ...base, engine, maxClients: 16 });
    server.define('shared', WorldRoom, { ...base, engine, mode: 'shared', maxClients: 16 });
    server.define('capped', WorldRoom, { ...base, engine, maxClients: 16, limits: { seats: 3, sessions: 2, joinsPerMinute: 600, joinBurst: 100 } });
    server.define('rated', WorldRoom, { ...base, engine, maxClients: 16, limits: { joinsPerMinute: 6, joinBurst: 3 } });
    const port = await freePort();
    await server.listen(port, '127.0.0.1');
    colyseus = new ColyseusTestServer(server);
    sdk = colyseus.sdk;
  });

  afterAll(async () => {
    for (const r of open) if (r.connection?.isOpen) await Promise.race([r.leave(), sleep(500)]);
    await colyseus?.shutdown();
    engine?.close();
  });

  it("survives a '*'-typed message with a poisoned payload, numeric and unprintable types; the other player's frames go on", async () => {
    const victim = await join('world', 'victim');
    await until(() => victim.frames.length > 0, 'victim frames');
    const evil = await join('world', 'evil');
    expect(evil.room.roomId).toBe(victim.room.roomId);
    const room = serverRoom(victim);
    // The message that killed the process: type '*', payload {toString: 1} (in the type slot of the wildcard).
    evil.room.send('*', { toString: 1 });
    evil.room.connection.send(roomData('*', { toString: 1, valueOf: 2 }));
    evil.room.connection.send(roomData('*', [1, 2, 3]));
    evil.room.connection.send(roomData(7, { toString: 1 })); // numeric type
    evil.room.connection.send(roomData('\u202e\u0085\u2028x', null)); // unprintable type
    evil.room.connection.send(roomData('toString', { toString: 1 })); // a prototype name
    evil.room.connection.send(roomData('__proto__', { toString: 1 }));
    evil.room.send('input', { seq: 1, keys: 0, toString: 1 });
    evil.room.sendBytes('input', Uint8Array.of(1, 2, 3)); // bytes where an object belongs
    evil.room.sendBytes('*', Uint8Array.of(1, 2, 3));
    await until(() => msgs(evil, 'error').length >= 9, 'an error per bad message', 3000);
    const errors = msgs<{ code: string; message: string }>(evil, 'error');
    expect(errors.every((e) => e.code === 'invalid_message')).toBe(true);
    expect(errors.map((e) => e.message)).toEqual(expect.arrayContaining(['unknown message type an object', 'unknown message type an array', 'unknown message type 7']));
    // the unprintable type is described escaped, never as raw bidi/separator characters
    expect(errors.some((e) => /unknown message type "\\u202e\\u0085\\u2028x"/.test(e.message))).toBe(true);
    expect(evil.leftCode).toBeNull(); // under maxViolations: still connected
    // The process, the room and the victim's world are all fine.
    const n = victim.frames.length;
    await until(() => victim.frames.length > n + 12, 'victim frames after the attack');
    expectInOrder(victim.frames);
    expect(room.getPlayer(victim.room.sessionId)!.view!.ended).toBe(false);
    await Promise.all([victim.room.leave(), evil.room.leave()]);
  });

  it('refuses poisoned join options at matchmaking, with a clear error and no room made', async () => {
    const host = await join('world', 'host');
    for (const options of [{ spectate: { toString: 1 } }, { spectate: ['x'] }, { spectate: 'a\u202eb' }, { token: 5 }, { model: '/etc' }, { toString: 1 }]) {
      const err = await sdkFor('prober')
        .joinById(host.room.roomId, options)
        .then(() => null, (e: unknown) => e as Error & { code?: number });
      expect(err, JSON.stringify(options)).not.toBeNull();
      expect(err!.code).toBe(WORLD_ERRORS.BAD_OPTIONS);
      expect(err!.message).toMatch(/join option/);
    }
    expect(serverRoom(host).clients.length).toBe(1);
    await host.room.leave();
  });

  it('a reconnect while the old socket is still open takes over the same world and its KV pages', async () => {
    const c = await join('world', 'halfopen');
    await until(() => c.frames.length >= 12, 'frames');
    const room = serverRoom(c);
    const p = room.getPlayer(c.room.sessionId)!;
    const view = p.view!;
    const pages = view.session.kvPages().filter((x) => x.frame < 3); // the sink frames stay for good
    expect(pages.length).toBeGreaterThan(0);
    // The old socket is still open (a half-open connection, as the client sees it).
    expect(c.room.connection.isOpen).toBe(true);
    const back = await new ColyseusSDK(sdk.settings).reconnect(c.room.reconnectionToken);
    open.push(back);
    back.reconnection.enabled = false;
    const c2 = watch(back);
    await until(() => c.leftCode !== null, 'the old socket closed');
    expect(c.leftCode).toBe(4002); // Colyseus' close of the superseded socket
    expect(back.sessionId).toBe(c.room.sessionId);
    expect(room.getPlayer(back.sessionId)).toBe(p);
    expect(p.view).toBe(view);
    expect(view.closed).toBe(false);
    for (const pg of pages) expect(view.session.kvPages()).toContainEqual(pg);
    await until(() => c2.frames.length >= 6, 'frames on the new socket');
    expect(c2.frames[0]!.view).toBe(view.id);
    expect(msgs<{ reconnected: boolean }>(c2, 'welcome').at(-1)!.reconnected).toBe(true);
    // ...and a flood on the new socket is still cut off for good (4002 from the rate limit is not a takeover).
    for (let i = 1; i <= 300; i++) back.send('input', { seq: i, keys: 0, dx: 0, dy: 0 });
    await until(() => c2.leftCode !== null, 'flooder disconnected');
    await until(() => view.closed, 'the flooder\'s world freed at once (no grace)', 1500);
  });

  it('describes client values in errors with every control, format and separator character escaped', () => {
    // (the fuzzer found U+00AD echoed raw in "unknown field" errors)
    for (const [v, want] of [
      ['d\u00adx', '"d\\u00adx"'],
      ['\u202eab\u0085', '"\\u202eab\\u0085"'],
      ['a\u061cb\u2060c', '"a\\u061cb\\u2060c"'],
      ['x\u{E0041}y', '"x\\udb40\\udc41y"'],
      ['l\u2028p\u2029', '"l\\u2028p\\u2029"'],
      ['plain été 😀', '"plain été 😀"'],
    ] as const)
      expect(describeValue(v)).toBe(want);
    const r = validateInput({ 'd\u00adx': 0, seq: 0, keys: 1, dy: 0 });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toBe('input has an unknown field "d\\u00adx"');
  });

  it('refuses prompts with C1 controls, bidi overrides, separators and lone surrogates; room state stays clean', async () => {
    for (const bad of ['day\u0085', 'a\u009bb', '\u202eyad', 'dusk\u2028', 'fog\u2029', '\ud800night', 'zero\u200bwidth', 'bom\ufeffx', 'bell\u0007'])
      expect(validatePrompt({ text: bad }, 200).ok, JSON.stringify(bad)).toBe(false);
    expect(validatePrompt({ text: 'rainy dusk, été 😀' }, 200)).toEqual({ ok: true, value: { text: 'rainy dusk, été 😀' } });

    const a = await join('shared', 'sa');
    const b = await join('shared', 'sb');
    await until(() => b.frames.length > 0, 'frames');
    const room = serverRoom(a);
    const before = msgs(a, 'error').length;
    for (const bad of ['day\u0085', 'a\u009bb', '\u202eyad', 'dusk\u2028', 'fog\u2029', 'x\u200dy']) a.room.send('prompt', { text: bad });
    await until(() => msgs(a, 'error').length >= before + 6, 'errors for each');
    expect(msgs<{ code: string; message: string }>(a, 'error').slice(before).every((e) => e.code === 'invalid_message' && /control, format or separator/.test(e.message))).toBe(true);
    a.room.send('prompt', { text: 'dusk' });
    await until(() => msgs(b, 'prompt').length > 0, 'the good prompt broadcast');
    for (const v of room.state.views.values()) expect(v.prompt).toBe('dusk');
    expect(msgs<{ text: string }>(b, 'prompt').map((m) => m.text)).toEqual(['dusk']);
    await Promise.all([a.room.leave(), b.room.leave()]);
  });

  it('caps one identity\'s seats and world sessions, refusing with a clear error and code; others unaffected', async () => {
    const other = await join('capped', 'someone-else');
    await until(() => other.frames.length > 0, 'frames');
    const first = await join('capped', 'greedy');
    const second = await join('capped', 'greedy');
    // a third world session of its own: refused in onJoin
    const third = await join('capped', 'greedy').then(() => null, (e: unknown) => e as Error & { code?: number });
    expect(third).not.toBeNull();
    expect(third!.code).toBe(LIMIT_ERRORS.IDENTITY_CAP);
    expect(third!.message).toMatch(/too many world sessions: this identity already has 2 \(the limit is 2\)/);
    // a spectator seat is still allowed (3 seats) ...
    const spy = await sdkFor('greedy').joinById(first.room.roomId, { spectate: first.room.sessionId });
    open.push(spy);
    // ... and the fourth seat is refused at matchmaking, before any seat is reserved
    const fourth = await sdkFor('greedy').joinById(first.room.roomId, { spectate: second.room.sessionId }).then(() => null, (e: unknown) => e as Error & { code?: number });
    expect(fourth!.code).toBe(WORLD_ERRORS.IDENTITY_CAP);
    expect(fourth!.message).toMatch(/too many seats: this identity already holds 3 \(the limit is 3\)/);
    const r = serverRoom(first);
    expect(r.clients.length).toBe(4); // someone-else, greedy ×2, the spectator
    expect(engine.model.kvStats().sessions).toBeGreaterThanOrEqual(3);
    expect(identityLimiter.usage('sub:greedy')).toEqual({ joined: 3, reserved: 0, sessions: 2 });
    // others are unaffected: another identity still joins and plays
    const fresh = await join('capped', 'newcomer');
    await until(() => fresh.frames.length > 0, 'the newcomer plays');
    // leaving frees the seat and the session at once
    await first.room.leave();
    await until(() => identityLimiter.usage('sub:greedy').sessions === 1, 'the session released');
    const again = await join('capped', 'greedy');
    await until(() => again.frames.length > 0, 'greedy plays again');
    const n = other.frames.length;
    await until(() => other.frames.length > n + 6, 'the other player kept its frames');
    await Promise.all([other.room.leave(), second.room.leave(), spy.leave(), fresh.room.leave(), again.room.leave()]);
    await until(() => identityLimiter.usage('sub:greedy').joined === 0, 'all seats released');
  });

  it('limits how fast one identity joins; the refusal says when to retry', async () => {
    for (let i = 0; i < 3; i++) {
      const c = await join('rated', 'churner');
      await c.room.leave();
    }
    const err = await join('rated', 'churner').then(() => null, (e: unknown) => e as Error & { code?: number });
    expect(err!.code).toBe(WORLD_ERRORS.JOIN_RATE);
    expect(err!.message).toMatch(/joining too fast: at most 6 joins a minute \(bursts of 3\); try again in \d+ s/);
    expect(await matchMaker.query({ name: 'rated' })).toHaveLength(0); // nothing reserved, no room locked
    // another identity is not slowed down by it
    const ok = await join('rated', 'patient');
    await ok.room.leave();
  });

  it('the default limits apply to every room: 4 seats per identity', async () => {
    const seats: Client[] = [];
    for (let i = 0; i < 2; i++) seats.push(await join('shared', 'default-cap'));
    for (let i = 0; i < 2; i++) seats.push(await join('world', 'default-cap'));
    const fifth = await join('shared', 'default-cap').then(() => null, (e: unknown) => e as Error & { code?: number });
    expect(fifth!.code).toBe(WORLD_ERRORS.IDENTITY_CAP);
    await Promise.all(seats.map((c) => c.room.leave()));
  });

  it('closes a client that keeps sending invalid messages with 4400, without a way back', async () => {
    const c = await join('world', 'noisy');
    for (let i = 0; i < 25; i++) c.room.send('*', { toString: i });
    await until(() => c.leftCode !== null, 'disconnected');
    expect(c.leftCode).toBe(CLOSE.POLICY_VIOLATION);
    await expect(new ColyseusSDK(sdk.settings).reconnect(c.room.reconnectionToken)).rejects.toThrow();
  });
});

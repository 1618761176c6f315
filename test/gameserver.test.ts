// The game server (gameserver/src): WorldRoom over real @colyseus/sdk clients on loopback
// (join, input → physics → conditioning → frames in order, prompt change, reconnection
// within and after the grace period, hostile clients, auth, a full KV pool, an engine
// error in one session, shared mode), plus the pieces it is built from (protocol
// validation, frame envelopes, tokens, motion → action mapping, rapier characters).
import './helpers/sdk_uses_ws.js'; // first: the back-pressure test pauses a client socket (ws only)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Protocol, Server, matchMaker } from '@colyseus/core';
import { WebSocketTransport } from '@colyseus/ws-transport';
import { ColyseusTestServer } from '@colyseus/testing';
import { ColyseusSDK, type Room as ClientRoom } from '@colyseus/sdk';

import {
  AutoCodec,
  CLOSE,
  JpegCodec,
  latentPreview,
  HmacTokenVerifier,
  PhysicsWorld,
  WORLD_ERRORS,
  WorldEngine,
  WorldRoom,
  GEOMETRY_CHANNELS,
  decodeEnvelope,
  defaultLevel,
  eyeFromCharacter,
  renderGeometry,
  defaultActionMap,
  encodeEnvelope,
  freePort,
  motionToConditioning,
  signToken,
  validateInput,
  validatePrompt,
  type BlockMeta,
  type FrameHeader,
  type Level,
  type TickMotion,
  type WorldRoomOptions,
  type WorldView,
} from '../gameserver/src/index.js';
import type { StepOptions } from '../sdk/src/index.js';
import { fixtures } from './helpers/fixtures.js';
import { expectInOrder, msgs, sleep, until, watch, type Client } from './helpers/room_clients.js';

const SECRET = 'test-secret-0123456789abcdef';
const tinyDir = join(fixtures, 'tiny');
const decoderDir = join(fixtures, 'taehv_tiny');
const geoDir = join(fixtures, 'tiny_geometry');
/** The tiny weights under a staggered schedule (4 blocks in flight). */
const stagDir = mkdtempSync(join(tmpdir(), 'wc-stag-room-'));
writeFileSync(join(stagDir, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(fixtures, 'tiny', 'config.json'), 'utf8')), schedule: { type: 'staggered', window: 4 } }));
copyFileSync(join(fixtures, 'tiny', 'model.safetensors'), join(stagDir, 'model.safetensors'));
/** The tiny weights with a config.json that names its decoder (as the default model's does). */
const namedDir = mkdtempSync(join(tmpdir(), 'wc-named-decoder-'));
writeFileSync(join(namedDir, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(fixtures, 'tiny', 'config.json'), 'utf8')), decoder: decoderDir }));
copyFileSync(join(fixtures, 'tiny', 'model.safetensors'), join(namedDir, 'model.safetensors'));
const SPACE = { mode: 'additive', keys: ['w', 'a', 's', 'd', 'space'], mouse: [{ name: 'dx', min: -1, max: 1 }, { name: 'dy', min: -1, max: 1 }] };

/** A room whose chosen views get malformed noise from their 3rd block on (an engine error in one session). */
class FaultyRoom extends WorldRoom {
  static faulty = new Set<string>();
  protected override stepOptions(v: WorldView, meta: BlockMeta): Omit<StepOptions, 'actions'> {
    return FaultyRoom.faulty.has(v.id) && meta.block >= 2 ? { noise: [new Float32Array(3)] } : {};
  }
}

/** Records the conditioning of every block (a geometry-taking model's rows). */
class RecordingRoom extends WorldRoom {
  static seen: { encoded: Float32Array | undefined; geometry: Float32Array | undefined; pose: { x: number; y: number; z: number; yaw: number; pitch: number } | undefined }[] = [];
  protected override conditioningFor(v: WorldView, ticks: readonly TickMotion[]): ReturnType<WorldRoom['conditioningFor']> {
    const c = super.conditioningFor(v, ticks);
    RecordingRoom.seen.push({ encoded: c.encoded, geometry: c.geometry, pose: ticks.at(-1)?.pose });
    return c;
  }
}

/** A level with the spawn 0.8 m in front of a wall (facing it). */
const wallLevel: Level = {
  name: 'wall',
  floor: { halfExtents: [5, 5] },
  boxes: [{ center: [0, 1.5, -2], halfExtents: [5, 1.5, 0.25] }],
  spawns: [{ position: [0, 0, -0.9], yaw: 0 }],
};

describe('gameserver pieces', () => {
  it('validates input and prompt messages', () => {
    expect(validateInput({ seq: 1, keys: 5, dx: 0.1, dy: -0.1 })).toEqual({ ok: true, value: { seq: 1, keys: 5, dx: 0.1, dy: -0.1 } });
    for (const bad of [null, 'w', [1], { seq: -1, keys: 0 }, { seq: 1.5, keys: 0 }, { seq: 1, keys: 32 }, { seq: 1, keys: 0, dx: NaN }, { seq: 1, keys: 0, dx: 5 }, { seq: 1, keys: 0, extra: 1 }])
      expect(validateInput(bad).ok).toBe(false);
    expect(validatePrompt({ text: ' a forest ' }, 200)).toEqual({ ok: true, value: { text: 'a forest' } });
    for (const bad of [{ text: '' }, { text: 'x'.repeat(201) }, { text: 3 }, { text: 'a\u0000b' }, 'text'])
      expect(validatePrompt(bad, 200).ok).toBe(false);
  });

  it('round-trips frame envelopes', () => {
    const header: FrameHeader = {
      view: 'v', block: 3, frame: 2, frames: 12, seq: 41, latentFrame: 9, width: 16, height: 16, codec: 'raw', input: 7, prompt: 1, tick: 99,
      times: { submitted: 1, stepped: 2, decoded: 3, sent: 4 }, dropped: 0,
    };
    const payload = Uint8Array.from({ length: 768 }, (_, i) => i & 255);
    const env = decodeEnvelope(encodeEnvelope(header, payload));
    expect(env.header).toEqual(header);
    expect(Buffer.from(env.payload).equals(Buffer.from(payload))).toBe(true);
    expect(() => decodeEnvelope(Uint8Array.of(1, 2, 3))).toThrow(/envelope/);
    // A header is plain data: a msgpack timestamp (which decodes to a Date, invalid ones too, and
    // did not survive re-encoding: a fuzz finding) or a header that is not a map is refused.
    const withHeader = (h: Uint8Array) => {
      const out = new Uint8Array(8 + h.length);
      out.set(encodeEnvelope(header, new Uint8Array(0)).subarray(0, 4));
      new DataView(out.buffer).setUint32(4, h.length, true);
      out.set(h, 8);
      return out;
    };
    expect(() => decodeEnvelope(withHeader(Uint8Array.of(0x81, 0xa4, 0x74, 0x69, 0x63, 0x6b, 0xd4, 0xff, 0x00)))).toThrow(/plain data/); // {tick: fixext1 -1}
    expect(() => decodeEnvelope(withHeader(Uint8Array.of(0x92, 0x01, 0x02)))).toThrow(/not a map/);
    expect(() => decodeEnvelope(withHeader(Uint8Array.of(0xc0)))).toThrow(/not a map/);
  });

  it('encodes frames: raw for tiny ones, JPEG (sharp) above; latent previews without a decoder', async () => {
    const rgb = Buffer.alloc(96 * 96 * 3, 128);
    const auto = new AutoCodec();
    expect(auto.pick(16, 16).name).toBe('raw');
    expect(auto.pick(96, 96).name).toBe('jpeg');
    const jpg = await new JpegCodec({ quality: 70 }).encode(rgb, 96, 96);
    expect([jpg[0], jpg[1]]).toEqual([0xff, 0xd8]);
    expect(jpg.length).toBeLessThan(rgb.length / 4);
    const raw = await auto.encode(rgb.subarray(0, 768), 16, 16);
    expect(raw.length).toBe(768);
    const lat = new Float32Array(4 * 3 * 2 * 2).fill(0);
    const frames = latentPreview(lat, 4, 3, 2, 2);
    expect(frames).toHaveLength(3);
    expect(frames[0]!.length).toBe(12);
    expect(frames[0]![0]).toBe(128);
  });

  it('signs and verifies HMAC tokens', () => {
    const v = new HmacTokenVerifier(SECRET);
    expect(v.verify(signToken(SECRET, { sub: 'alice' }))?.sub).toBe('alice');
    expect(v.verify(signToken('another-secret-0123456789', { sub: 'alice' }))).toBeNull();
    expect(v.verify(signToken(SECRET, { sub: 'alice', ttlSeconds: -120 }))).toBeNull();
    const t = signToken(SECRET, { sub: 'alice' });
    const [a, , c] = t.split('.');
    const forged = `${a}.${Buffer.from(JSON.stringify({ sub: 'root', exp: 9e9 })).toString('base64url')}.${c}`;
    expect(v.verify(forged)).toBeNull();
    expect(v.verify('garbage')).toBeNull();
  });

  it('maps allowed motion to actions: moving, blocked, turning, jumping', () => {
    const p = { walkSpeed: 4, maxTurnRate: 2 * Math.PI, keyThreshold: 0.3, map: defaultActionMap };
    const tick = (m: Partial<TickMotion>): TickMotion => ({ dt: 1 / 30, forward: 0, right: 0, up: 0, yaw: 0, pitch: 0, jumped: false, blocked: false, pose: { x: 0, y: 0, z: 0, yaw: 0, pitch: 0 }, ...m });
    const walking = Array.from({ length: 9 }, () => tick({ forward: 4 / 30, yaw: -0.05 }));
    const c = motionToConditioning(walking, 3, SPACE, p);
    expect(c.inputs).toHaveLength(3);
    expect(c.encoded).toHaveLength(21);
    for (let f = 0; f < 3; f++) {
      expect(Array.from(c.encoded!.subarray(f * 7, f * 7 + 5))).toEqual([1, 0, 0, 0, 0]);
      expect(c.encoded![f * 7 + 5]).toBeCloseTo(0.05 * 30 / (2 * Math.PI), 5); // turning right
    }
    // Keys held against a wall: no motion, no keys.
    const blocked = Array.from({ length: 9 }, () => tick({ blocked: true }));
    expect(Array.from(motionToConditioning(blocked, 3, SPACE, p).encoded!)).toEqual(new Array(21).fill(0));
    // A jump that left the ground while strafing left; two ticks spread over three frames.
    const mixed = [tick({ jumped: true, up: 0.15, right: -0.13 }), tick({ up: 0.1, right: -0.13 })];
    const m = motionToConditioning(mixed, 3, SPACE, p).inputs;
    expect(m.map((x) => x.keys)).toEqual([['a', 'space'], ['a', 'space'], ['a']]);
    // A jump into a ceiling (no rise) is not a jump; no ticks at all is standing still.
    expect(motionToConditioning([tick({ jumped: true, up: 0 })], 1, SPACE, p).inputs[0]!.keys).toEqual([]);
    expect(Array.from(motionToConditioning([], 3, SPACE, p).encoded!)).toEqual(new Array(21).fill(0));
  });

  it('moves rapier characters: walls block, steps are climbed, jumps rise', async () => {
    const w = await PhysicsWorld.create(wallLevel);
    const c = w.addCharacter();
    const input = { keys: 0, lookX: 0, lookY: 0 };
    for (let i = 0; i < 15; i++) {
      c.step(input, 1 / 30);
      w.step(1 / 30);
    }
    expect(c.grounded).toBe(true);
    expect(c.y).toBeGreaterThanOrEqual(0);
    input.keys = 1; // w, into the wall 0.9 m ahead (face at z = -1.75)
    const ms: TickMotion[] = [];
    for (let i = 0; i < 30; i++) {
      ms.push(c.step(input, 1 / 30));
      w.step(1 / 30);
    }
    expect(ms[0]!.forward).toBeGreaterThan(0.1);
    expect(ms.at(-1)!.forward).toBeLessThan(1e-3);
    expect(ms.at(-1)!.blocked).toBe(true);
    expect(c.z).toBeGreaterThan(-1.75 + 0.29);
    // Look: a large mouse move is limited to the turn rate and spread over ticks.
    input.keys = 0;
    input.lookX = 1;
    const turn = c.step(input, 1 / 30);
    w.step(1 / 30);
    expect(turn.yaw).toBeCloseTo(-(2 * Math.PI) / 30, 6);
    // Jump.
    input.keys = 16;
    const j = c.step(input, 1 / 30);
    w.step(1 / 30);
    expect(j.jumped).toBe(true);
    expect(j.up).toBeGreaterThan(0);
    w.free();
  });
});

describe('WorldRoom over loopback', () => {
  let engine: WorldEngine;
  let smallEngine: WorldEngine;
  let stagEngine: WorldEngine;
  let geoEngine: WorldEngine;
  let namedEngine: WorldEngine;
  let singleEngine: WorldEngine;
  let adaptEngine: WorldEngine & { load: (windowMs?: number) => number };
  let server: Server;
  let colyseus: ColyseusTestServer;
  let sdk: ColyseusSDK;
  const open: ClientRoom[] = [];

  const base: WorldRoomOptions = {
    tickRate: 50,
    ticksPerBlock: 3,
    blockFrames: 3, // these tests read whole 3-frame blocks; 'auto' has its own tests below
    auth: { secret: SECRET },
    reconnectGraceSeconds: 1,
    maxMessagesPerSecond: 60,
    maxViolations: 4,
    frameActions: true, // some tests read the conditioning from frame headers
  };

  async function join(roomName: string, sub = 'p', options: Record<string, unknown> = {}): Promise<Client> {
    const s = new ColyseusSDK(sdk.settings);
    s.auth.token = signToken(SECRET, { sub });
    const room = await s.joinOrCreate(roomName, options);
    room.reconnection.enabled = false; // the tests drop and reconnect by hand
    open.push(room);
    return watch(room);
  }

  /** Join the room of `c` by id with the given options (e.g. as a spectator). */
  async function joinRoomOf(c: Client, sub: string, options: Record<string, unknown>): Promise<Client> {
    const s = new ColyseusSDK(sdk.settings);
    s.auth.token = signToken(SECRET, { sub });
    const room = await s.joinById(c.room.roomId, options);
    room.reconnection.enabled = false;
    open.push(room);
    return watch(room);
  }

  function serverRoom(c: Client): WorldRoom {
    return colyseus.getRoomById(c.room.roomId) as unknown as WorldRoom;
  }

  beforeAll(async () => {
    engine = await WorldEngine.load({ modelDir: tinyDir, decoderDir, threads: 1 });
    // A pool that admits exactly one world session (its quota measured on the big pool).
    const before = engine.model.kvStats().reservedBytes;
    const probe = engine.model.createSession({ localAttnSize: 12, sinkSize: 3 });
    const quota = engine.model.kvStats().reservedBytes - before;
    await probe.close();
    smallEngine = await WorldEngine.load({ modelDir: tinyDir, decoderDir, threads: 1, kv: { budgetBytes: Math.floor(quota * 1.5) } });
    stagEngine = await WorldEngine.load({ modelDir: stagDir, decoderDir, threads: 1 });
    namedEngine = await WorldEngine.load({ modelDir: namedDir, threads: 1 }); // the decoder its config names
    geoEngine = await WorldEngine.load({ modelDir: geoDir, decoderDir, threads: 1 });
    singleEngine = await WorldEngine.load({ modelDir: tinyDir, decoderDir, threads: 1, blockFrames: 1 });
    adaptEngine = await WorldEngine.load({ modelDir: tinyDir, decoderDir, threads: 1 });

    server = new Server({ transport: new WebSocketTransport({ maxPayload: 16 * 1024 }), greet: false, gracefullyShutdown: false });
    server.define('world', WorldRoom, { ...base, engine });
    server.define('locked', WorldRoom, { ...base, engine });
    server.define('wall', WorldRoom, { ...base, engine, level: wallLevel });
    server.define('shared', WorldRoom, { ...base, engine, mode: 'shared' });
    server.define('small', WorldRoom, { ...base, engine: smallEngine });
    server.define('small-shared', WorldRoom, { ...base, mode: 'shared', engine: smallEngine });
    server.define('staggered', WorldRoom, { ...base, engine: stagEngine });
    server.define('geometry', RecordingRoom, { ...base, engine: geoEngine });
    server.define('named', WorldRoom, { ...base, engine: namedEngine });
    server.define('lean', WorldRoom, { ...base, engine: geoEngine, frameActions: false });
    server.define('faulty', FaultyRoom, { ...base, engine });
    server.define('single', WorldRoom, { ...base, engine: singleEngine, ticksPerBlock: 1, blockFrames: 'auto' });
    const { ticksPerBlock: _, ...derived } = base;
    server.define('single-derived', WorldRoom, { ...derived, engine: singleEngine, latentFrameSeconds: 0.1, blockFrames: 1 });
    // Fat frames (64 KiB each) fill a paused client's socket quickly.
    const padded = { name: 'padded', encode: (rgb: Uint8Array) => Buffer.alloc(64 * 1024, rgb[0]) };
    server.define('adaptive', WorldRoom, { ...base, engine: adaptEngine, blockFrames: 'auto', blockSizer: { holdMs: 100, windowMs: 300 } });
    server.define('fat', WorldRoom, { ...base, engine, codec: padded, backpressureBytes: 256 * 1024, maxBufferedBytes: 2 * 1024 * 1024 });
    const port = await freePort();
    await server.listen(port, '127.0.0.1');
    colyseus = new ColyseusTestServer(server);
    sdk = colyseus.sdk;
  });

  afterAll(async () => {
    for (const r of open) if (r.connection?.isOpen) await Promise.race([r.leave(), sleep(500)]);
    await colyseus?.shutdown();
    engine?.close();
    smallEngine?.close();
    stagEngine?.close();
    geoEngine?.close();
    namedEngine?.close();
    singleEngine?.close();
    adaptEngine?.close();
    rmSync(stagDir, { recursive: true, force: true });
    rmSync(namedDir, { recursive: true, force: true });
  });

  it('joins with a token, welcomes, and streams frames in order', async () => {
    const c = await join('world', 'alice');
    await until(() => c.frames.length >= 30, '30 frames');
    const w = msgs<{ view: string; mode: string; decoder: boolean; framesPerBlock: number }>(c, 'welcome')[0]!;
    expect(w.mode).toBe('private');
    expect(w.decoder).toBe(true);
    expect(w.framesPerBlock).toBe(3);
    const f = c.frames[0]!;
    expect(f.view).toBe(w.view);
    expect([f.width, f.height, f.codec]).toEqual([16, 16, 'raw']);
    expect(c.payloadBytes[0]).toBe(16 * 16 * 3);
    expect(c.frames[0]!.frames).toBe(9); // taehv trims the first block's start-up frames
    expect(c.frames.find((h) => h.block === 1)!.frames).toBe(12);
    expectInOrder(c.frames);
    const state = c.room.state as { players: Map<string, { view: string; connected: boolean }>; mode: string };
    expect(state.mode).toBe('private');
    expect(state.players.get(c.room.sessionId)!.view).toBe(w.view);
    await c.room.leave();
  });

  it("blockFrames 'auto': from the model's 3 frames down to 1-frame blocks while the engine has room, back up when it is busy, down when it frees", async () => {
    const c = await join('adaptive', 'ada');
    // decoded frames of each block (4 per latent frame; the stream trims 3 at its start)
    const blocks = () => [...new Map(c.frames.map((h) => [h.block, h.frames])).entries()];
    // an idle tiny engine: the first blocks take the model's 3 frames, then 2, then 1
    await until(() => blocks().some(([, n]) => n === 4), 'a 1-frame block');
    const w = msgs<{ framesPerBlock: number; minFramesPerBlock: number; frameMs: number }>(c, 'welcome')[0]!;
    expect([w.framesPerBlock, w.minFramesPerBlock]).toEqual([3, 1]);
    expect(w.frameMs).toBeCloseTo(60 / 3 / 4, 6); // 3 ticks at 50 Hz per 3 latent frames, 4 decoded frames each
    const sizes = blocks().slice(1).map(([, n]) => n);
    expect(sizes.indexOf(12), JSON.stringify(sizes)).toBeLessThan(sizes.indexOf(8));
    expect(sizes.indexOf(8), JSON.stringify(sizes)).toBeLessThan(sizes.indexOf(4));
    // a busy engine (its measured load above `high`): blocks grow to the model's 3 frames
    const real = adaptEngine.load.bind(adaptEngine);
    try {
      adaptEngine.load = () => 0.95;
      await until(() => blocks().some(([, n]) => n === 12), 'a 3-frame block');
      const grown = blocks().find(([, n]) => n === 12)![0];
      expect(blocks().some(([b, n]) => b < grown && n === 8), 'one frame at a time: 1, 2, then 3').toBe(true);
      adaptEngine.load = () => 0.1;
      await until(() => blocks().some(([b, n]) => b > grown && n === 4), 'back to 1-frame blocks');
    } finally {
      adaptEngine.load = real;
    }
    expectInOrder(c.frames);
    const view = [...serverRoom(c)['views'].values()][0]!;
    expect(view.session.layout.minFrames).toBe(1);
    await c.room.leave();
  });

  it("conditions a geometry-taking model on the map of the level seen from the driver's pose", async () => {
    RecordingRoom.seen = [];
    const c = await join('geometry', 'geo');
    let seq = 0;
    const timer = setInterval(() => c.room.send('input', { seq: ++seq, keys: 1, dx: 0.4, dy: 0 }), 20);
    try {
      await until(() => c.frames.length >= 20 && RecordingRoom.seen.some((r) => r.pose), '20 frames while walking');
    } finally {
      clearInterval(timer);
    }
    const plane = 6 * 8; // tiny_geometry: 6x8 latents
    const moving = RecordingRoom.seen.find((r) => r.pose)!;
    expect(moving.encoded!.length).toBe(3 * 7); // action rows: the vectors only
    expect(moving.geometry!.length).toBe(GEOMETRY_CHANNELS * 3 * plane); // the block's maps, its own input [C, F, H, W]
    const want = renderGeometry(defaultLevel, eyeFromCharacter(moving.pose!), 8, 6, { samples: 2, near: 5 });
    const last = Array.from({ length: GEOMETRY_CHANNELS }, (_, ch) => [...moving.geometry!.subarray((ch * 3 + 2) * plane, (ch * 3 + 3) * plane)]).flat();
    expect(last).toEqual([...want]); // the block's last frame: the pose after its last tick
    expect(Math.max(...want.subarray(3 * 48, 4 * 48))).toBe(1); // the map sees the yard (coverage)
    expectInOrder(c.frames);
    await c.room.leave();
  });

  it('streams blocks of one latent frame from a model loaded with blockFrames 1 (trained on 3)', async () => {
    const c = await join('single', 'single');
    await until(() => c.frames.length >= 30, '30 frames');
    const w = msgs<{ framesPerBlock: number }>(c, 'welcome')[0]!;
    expect(w.framesPerBlock).toBe(1);
    for (const h of c.frames) expect(h.latentFrame).toBe(h.block); // one latent frame a block
    expect(c.frames.find((h) => h.block === 2)!.frames).toBe(4); // the tiny decoder's 4 frames per latent
    expectInOrder(c.frames);
    await c.room.leave();
    // without an override a block is the model's frames × latentFrameSeconds × tickRate ticks
    const d = await join('single-derived', 'single2');
    await until(() => d.frames.length >= 8, '8 frames');
    expect(msgs<{ ticksPerBlock: number; framesPerBlock: number }>(d, 'welcome')[0]).toMatchObject({ framesPerBlock: 1, ticksPerBlock: 5 }); // 1 × 0.1 s × 50 Hz (3-frame blocks: 15)
    await d.room.leave();
  });

  it('streams a staggered-schedule model: nothing while its pipeline fills, then every block in order', async () => {
    const c = await join('staggered', 'stagger');
    await until(() => c.frames.length >= 20, '20 frames');
    expect(c.frames[0]!.latentFrame).toBe(0); // the first block out is the world's first block
    // Each block's header is its own (block number, conditioning, times), not that of the
    // block submitted when it came out three steps later.
    for (const h of c.frames) expect(h.latentFrame).toBe(h.block * 3);
    expectInOrder(c.frames);
    await c.room.leave();
  });

  it('turns input into physics, physics into conditioning, and delivers the frames in order', async () => {
    const c = await join('world', 'walker');
    await until(() => c.frames.length > 0, 'first frame');
    let seq = 0;
    const send = (keys: number, dx = 0) => c.room.send('input', { seq: ++seq, keys, dx, dy: 0 });
    // Hold w and turn right a little, for a while.
    const timer = setInterval(() => send(1, 0.02), 20);
    try {
      await until(() => c.frames.some((h) => h.input >= 10 && h.actions !== undefined), 'a block conditioned on the inputs');
      await sleep(200);
    } finally {
      clearInterval(timer);
    }
    const conditioned = c.frames.filter((h) => h.input >= 10 && h.actions);
    expect(conditioned.length).toBeGreaterThan(0);
    const a = conditioned.at(-1)!.actions!;
    expect(a).toHaveLength(21);
    let turn = 0;
    for (let f = 0; f < 3; f++) {
      expect(a[f * 7]).toBe(1); // w
      expect(a[f * 7 + 2]).toBe(0); // s
      expect(a[f * 7 + 5]).toBeGreaterThanOrEqual(0); // turning right (or not, in a tick no input arrived)
      turn += a[f * 7 + 5]!;
    }
    expect(turn).toBeGreaterThan(0);
    const p = serverRoom(c).getPlayer(c.room.sessionId)!;
    expect(p.character!.z).toBeLessThan(-0.5); // walked towards -Z (then veered right)
    // the last input may still be in flight when the timer stops: wait until it lands
    await until(() => p.state.inputSeq === seq, 'the last input processed');
    expect(p.state.inputSeq).toBe(seq);
    expect(p.view!.lastConditioning!.inputs.length).toBe(3);
    expectInOrder(c.frames);
    expect(c.frames.at(-1)!.dropped).toBe(0);
    await c.room.leave();
  });

  it('conditions a player walking into a wall as standing still', async () => {
    const c = await join('wall', 'bumper');
    await until(() => c.frames.length > 0, 'first frame');
    let seq = 0;
    const timer = setInterval(() => c.room.send('input', { seq: ++seq, keys: 1, dx: 0, dy: 0 }), 20);
    try {
      // The wall is 0.9 m ahead: 0.15 s of walking, then blocked.
      await until(() => c.frames.filter((h) => h.actions && h.input >= 30).length >= 2, 'blocks after reaching the wall');
    } finally {
      clearInterval(timer);
    }
    const early = c.frames.find((h) => h.actions && h.input >= 1 && h.input <= 10 && h.actions.some((x, i) => i % 7 === 0 && x === 1));
    expect(early).toBeDefined(); // walking before the wall
    const late = c.frames.filter((h) => h.actions && h.input >= 30).at(-1)!;
    expect(late.actions).toEqual(new Array(21).fill(0)); // w held, but physics allowed no motion
    const p = serverRoom(c).getPlayer(c.room.sessionId)!;
    expect(p.input.keys).toBe(1);
    expect(p.character!.z).toBeGreaterThan(-1.75 + 0.29);
    await c.room.leave();
  });

  it('acknowledges a prompt change and applies it from the block it names', async () => {
    const c = await join('world', 'poet');
    await until(() => c.frames.length > 0, 'first frame');
    c.room.send('prompt', { text: 'a snowy forest' });
    await until(() => msgs(c, 'prompt').length === 1, 'prompt ack');
    const ack = msgs<{ text: string; version: number; fromBlock: number; view: string }>(c, 'prompt')[0]!;
    expect(ack).toMatchObject({ text: 'a snowy forest', version: 1 });
    await until(() => c.frames.some((h) => h.block > ack.fromBlock), 'frames after the change');
    for (const h of c.frames) expect(h.prompt).toBe(h.block >= ack.fromBlock ? 1 : 0);
    await until(() => (c.room.state as { views: Map<string, { prompt: string }> }).views.get(ack.view)?.prompt === 'a snowy forest', 'prompt in state');
    // An unknown-length or empty prompt is refused with an error, the session goes on.
    c.room.send('prompt', { text: '' });
    await until(() => msgs(c, 'error').length === 1, 'error');
    const n = c.frames.length;
    await until(() => c.frames.length > n + 12, 'more frames');
    await c.room.leave();
  });

  it('keeps the world and its KV pages for a player who reconnects within the grace period', async () => {
    const c = await join('world', 'dropper');
    await until(() => c.frames.length >= 24, 'frames');
    const room = serverRoom(c);
    const p = room.getPlayer(c.room.sessionId)!;
    const view = p.view!;
    const token = c.room.reconnectionToken;
    await c.room.leave(false); // the socket drops without a leave message
    await until(() => !p.connected, 'server sees the drop');
    await sleep(100);
    const pagesAway = view.session.kvPages();
    const statsAway = await view.session.stats();
    expect(statsAway.kvFrames).toBeGreaterThan(0);
    await sleep(200);
    expect(view.session.kvPages()).toEqual(pagesAway); // not stepped while away

    const s = new ColyseusSDK(sdk.settings);
    const back = await s.reconnect(token);
    open.push(back);
    back.reconnection.enabled = false;
    const c2 = watch(back);
    expect(back.sessionId).toBe(c.room.sessionId);
    const p2 = room.getPlayer(back.sessionId)!;
    expect(p2).toBe(p);
    expect(p2.view).toBe(view);
    expect(view.closed).toBe(false);
    const pagesBack = view.session.kvPages();
    // Same session, same committed pages (the sink frames stay for good).
    for (const pg of pagesAway.filter((x) => x.frame < 3)) expect(pagesBack).toContainEqual(pg);
    expect((await view.session.stats()).nextFrame).toBeGreaterThanOrEqual(statsAway.nextFrame);
    await until(() => c2.frames.length >= 12, 'frames after reconnecting');
    expect(c2.frames[0]!.view).toBe(view.id);
    expect(c2.frames[0]!.block).toBeGreaterThan(c.frames.at(-1)!.block);
    await back.leave();
  });

  it('frees the world after the grace period; rejoining gets a fresh one', async () => {
    const c = await join('world', 'leaver');
    await until(() => c.frames.length >= 12, 'frames');
    const room = serverRoom(c);
    const view = room.getPlayer(c.room.sessionId)!.view!;
    const sessionsBefore = engine.model.kvStats().sessions;
    const token = c.room.reconnectionToken;
    await c.room.leave(false);
    await until(() => view.closed, 'the session freed after the grace period', 4000);
    expect(room.getPlayer(c.room.sessionId)).toBeUndefined();
    // view.closed is set when the close starts; the session's pages go when it has run on the engine thread
    await until(() => engine.model.kvStats().sessions === sessionsBefore - 1, 'the KV pool dropped the session', 4000);
    await expect(new ColyseusSDK(sdk.settings).reconnect(token)).rejects.toThrow();
    const again = await join('world', 'leaver');
    await until(() => again.frames.length > 0, 'frames');
    const v2 = serverRoom(again).getPlayer(again.room.sessionId)!.view!;
    expect(v2).not.toBe(view);
    expect(again.frames[0]!.view).not.toBe(view.id);
    expect(again.frames[0]!.latentFrame).toBe(0);
    await again.room.leave();
  });

  it('rejects malformed, oversized and flooding clients without harming others', async () => {
    const victim = await join('world', 'victim');
    await until(() => victim.frames.length > 0, 'victim frames');

    // Malformed messages get errors, then the client is cut off (no reconnection).
    const bad = await join('world', 'malformed');
    expect(bad.room.roomId).toBe(victim.room.roomId);
    bad.room.send('input', { seq: 'one', keys: 1 });
    bad.room.send('input', { seq: 1, keys: 99 });
    bad.room.send('input', 'wasd');
    bad.room.send('nonsense', { a: 1 });
    bad.room.connection.send(Uint8Array.of(Protocol.ROOM_DATA, 0xa5, ...Buffer.from('input'), 0xc1)); // not msgpack
    bad.room.send('prompt', { text: 'x'.repeat(5000) });
    await until(() => bad.leftCode !== null, 'malformed client disconnected');
    expect(bad.leftCode).toBe(CLOSE.POLICY_VIOLATION);
    expect(msgs(bad, 'error').length).toBeGreaterThanOrEqual(4);

    // Oversized: the socket is closed by the transport (1009).
    const big = await join('world', 'oversized');
    big.room.send('prompt', { text: 'y'.repeat(64 * 1024) });
    await until(() => big.leftCode !== null, 'oversized client disconnected');
    expect(big.leftCode).toBe(1009);

    // Flooding: past maxMessagesPerSecond the client is dropped.
    const flood = await join('world', 'flooder');
    for (let i = 1; i <= 300; i++) flood.room.send('input', { seq: i, keys: 0, dx: 0, dy: 0 });
    await until(() => flood.leftCode !== null, 'flooder disconnected');

    const room = serverRoom(victim);
    await until(() => room.getPlayer(flood.room.sessionId) === undefined && room.getPlayer(big.room.sessionId) === undefined && room.getPlayer(bad.room.sessionId) === undefined, 'attackers removed at once (no grace)', 1000);
    // The victim kept its session and frames kept coming, in order.
    const n = victim.frames.length;
    await until(() => victim.frames.length > n + 24, 'victim frames after the attacks');
    expectInOrder(victim.frames);
    expect(victim.leftCode).toBeNull();
    expect(msgs(victim, 'error')).toHaveLength(0);
    await victim.room.leave();
  });

  it('refuses to join without a valid token, before any room is created', async () => {
    const anon = new ColyseusSDK(sdk.settings);
    await expect(anon.joinOrCreate('locked')).rejects.toThrow(/authentication required/);
    expect(await matchMaker.query({ name: 'locked' })).toHaveLength(0);
    const forged = new ColyseusSDK(sdk.settings);
    forged.auth.token = signToken('not-the-secret-0123456789', { sub: 'mallory' });
    await expect(forged.joinOrCreate('locked')).rejects.toThrow(/invalid or expired token/);
    const expired = new ColyseusSDK(sdk.settings);
    expired.auth.token = signToken(SECRET, { sub: 'late', ttlSeconds: -3600 });
    await expect(expired.joinOrCreate('locked')).rejects.toMatchObject({ code: WORLD_ERRORS.AUTH });
    expect(await matchMaker.query({ name: 'locked' })).toHaveLength(0);
    // Joining an existing room by id is checked too.
    const ok = await join('world', 'host');
    await expect(new ColyseusSDK(sdk.settings).joinById(ok.room.roomId)).rejects.toThrow(/authentication required/);
    await ok.room.leave();
  });

  it('refuses a join cleanly when the KV pool is full', async () => {
    const first = await join('small', 'first');
    await until(() => first.frames.length > 0, 'frames');
    expect(smallEngine.model.kvStats().sessions).toBe(1);
    const err = await join('small', 'second').then(
      () => null,
      (e: unknown) => e as Error & { code?: number },
    );
    expect(err).not.toBeNull();
    expect(err!.message).toMatch(/world is full.*KV/);
    expect(smallEngine.model.kvStats().sessions).toBe(1);
    // A shared-mode room whose one world cannot be admitted is refused at matchmaking with
    // an HTTP status (503), not a 500.
    const shared = await join('small-shared', 'third').then(
      () => null,
      (e: unknown) => e as Error & { code?: number },
    );
    expect(shared!.message).toMatch(/world is full.*KV/);
    expect(shared!.code).toBe(503);
    expect(smallEngine.model.kvStats().sessions).toBe(1);
    // The admitted player is unaffected.
    const n = first.frames.length;
    await until(() => first.frames.length > n + 12, 'frames after the refusal');
    expectInOrder(first.frames);
    expect(serverRoom(first).getPlayer(first.room.sessionId)!.view!.ended).toBe(false);
    await first.room.leave();
  });

  it('ends only the failing session when the engine errors, with a message to its client', async () => {
    const good = await join('faulty', 'good');
    const bad = await join('faulty', 'bad');
    expect(bad.room.roomId).toBe(good.room.roomId);
    const room = serverRoom(good);
    const badView = room.getPlayer(bad.room.sessionId)!.view!;
    FaultyRoom.faulty.add(badView.id);
    await until(() => msgs(bad, 'session_ended').length === 1, 'session_ended');
    const ended = msgs<{ view: string; code: string; message: string }>(bad, 'session_ended')[0]!;
    expect(ended.view).toBe(badView.id);
    expect(ended.code).toBe('SHAPE');
    expect(ended.message).toMatch(/noise/);
    await until(() => badView.closed, 'failed session closed');
    const n = good.frames.length;
    await until(() => good.frames.length > n + 24, 'the other session goes on');
    expectInOrder(good.frames);
    expect(msgs(good, 'session_ended')).toHaveLength(0);
    expect(bad.leftCode).toBeNull(); // still in the room; it may ask for a fresh world
    FaultyRoom.faulty.clear();
    bad.room.send('restart');
    await until(() => msgs(bad, 'welcome').length === 2, 'a fresh world');
    const m = bad.frames.length;
    await until(() => bad.frames.length > m, 'frames of the fresh world');
    expect(bad.frames.at(-1)!.view).not.toBe(badView.id);
    await good.room.leave();
    await bad.room.leave();
  });

  it('shares one world view between all players in shared mode', async () => {
    const a = await join('shared', 'a');
    const b = await join('shared', 'b');
    expect(b.room.roomId).toBe(a.room.roomId);
    await until(() => msgs(a, 'welcome').length === 1 && msgs(b, 'welcome').length === 1, 'welcome messages');
    const wa = msgs<{ view: string; mode: string }>(a, 'welcome')[0]!;
    const wb = msgs<{ view: string }>(b, 'welcome')[0]!;
    expect(wa.mode).toBe('shared');
    expect(wb.view).toBe(wa.view);
    await until(() => a.frames.length > 24 && b.frames.length > 24, 'frames for both');
    // The same frames (by sequence number) go to both players.
    const seqA = new Set(a.frames.map((h) => `${h.view}:${h.seq}`));
    const common = b.frames.filter((h) => seqA.has(`${h.view}:${h.seq}`));
    expect(common.length).toBeGreaterThan(12);
    const room = serverRoom(a);
    const view = room.getView(wa.view)!;
    expect(view.driver!.id).toBe(a.room.sessionId);
    expect(engine.model.kvStats().sessions).toBeGreaterThanOrEqual(1);
    // b's keys do not drive the shared view while a drives it.
    let seq = 0;
    const timer = setInterval(() => b.room.send('input', { seq: ++seq, keys: 1, dx: 0, dy: 0 }), 20);
    try {
      await sleep(400);
      expect(view.lastConditioning!.encoded![0]).toBe(0);
      await a.room.leave();
      await until(() => view.driver?.id === b.room.sessionId, 'b drives after a leaves');
      await until(() => view.lastConditioning!.encoded![0] === 1, 'b\'s walking conditions the view');
    } finally {
      clearInterval(timer);
    }
    expect(view.closed).toBe(false);
    await b.room.leave();
  });

  it('sends only the newest frames to a client whose socket is behind, and counts the drops', async () => {
    const slow = await join('fat', 'slow');
    const fast = await join('fat', 'fast');
    expect(fast.room.roomId).toBe(slow.room.roomId);
    await until(() => slow.frames.length > 0 && fast.frames.length > 0, 'frames');
    const ws = (slow.room.connection.transport as unknown as { ws: { pause(): void; resume(): void } }).ws;
    ws.pause(); // stop reading: the server's send buffer for this client fills up
    const room = serverRoom(slow);
    const p = room.getPlayer(slow.room.sessionId)!;
    await until(() => p.dropped > 24, 'drops for the paused client', 8000);
    ws.resume();
    // The backlog (frames queued before the drops began) arrives first, then the thinned ones.
    await until(() => slow.frames.length > 0 && slow.frames.at(-1)!.dropped > 24, 'frames sent after the drops', 8000);
    // What arrived is in order; the gaps are exactly the drops the server counted.
    const last = slow.frames.at(-1)!;
    const seqs = slow.frames.map((h) => h.seq);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
    const gaps = last.seq + 1 - slow.frames.length - slow.frames[0]!.seq;
    expect(gaps).toBe(last.dropped);
    expect(last.dropped).toBeGreaterThan(24);
    // When a block was thinned to its newest frame, that frame is the block's last one.
    const thinned = slow.frames.filter((h, i) => h.frame === h.frames - 1 && (i === 0 || slow.frames[i - 1]!.block !== h.block));
    expect(thinned.length).toBeGreaterThan(0);
    // The other client in the room lost nothing.
    expect(room.getPlayer(fast.room.sessionId)!.dropped).toBe(0);
    expectInOrder(fast.frames);
    await until(() => (slow.room.state as { players: Map<string, { dropped: number }> }).players.get(slow.room.sessionId)!.dropped === p.dropped, 'drops in the room state');
    await slow.room.leave();
    await fast.room.leave();
  });

  it('lets a spectator watch a player\'s world: the same frames in order, no session or character of its own', async () => {
    const player = await join('world', 'watched');
    await until(() => player.frames.length > 0, 'player frames');
    const room = serverRoom(player);
    const view = room.getPlayer(player.room.sessionId)!.view!;
    const sessions = engine.model.kvStats().sessions;
    const spec = await joinRoomOf(player, 'watcher', { spectate: player.room.sessionId });
    await until(() => msgs(spec, 'welcome').length === 1, 'spectator welcome');
    const w = msgs<{ view: string; spectating: string }>(spec, 'welcome')[0]!;
    expect(w).toMatchObject({ view: view.id, spectating: player.room.sessionId });
    expect(engine.model.kvStats().sessions).toBe(sessions); // no world session of its own
    const sp = room.getPlayer(spec.room.sessionId)!;
    expect(sp.character).toBeNull(); // not a body in the physics world
    expect(sp.spectating).toBe(player.room.sessionId);
    expect(view.subscribers.has(sp)).toBe(true);
    await until(() => spec.frames.length >= 24, 'spectator frames');
    expectInOrder(spec.frames);
    // The same envelopes as the player's: same view, sequence numbers, blocks and frame indices.
    await until(() => player.frames.at(-1)!.seq >= spec.frames.at(-1)!.seq, 'the player has them too');
    const bySeq = new Map(player.frames.map((h) => [h.seq, h]));
    for (const h of spec.frames) {
      const ph = bySeq.get(h.seq)!;
      expect(ph).toBeDefined();
      expect([h.view, h.block, h.frame, h.frames, h.latentFrame]).toEqual([ph.view, ph.block, ph.frame, ph.frames, ph.latentFrame]);
    }
    await until(() => (spec.room.state as { players: Map<string, { spectating: string; view: string }> }).players.get(spec.room.sessionId)?.spectating === player.room.sessionId, 'spectating in state');
    expect((spec.room.state as { players: Map<string, { view: string }> }).players.get(spec.room.sessionId)!.view).toBe(view.id);
    await spec.room.leave();
    await until(() => !view.subscribers.has(sp), 'spectator unsubscribed');
    expect(view.closed).toBe(false); // the player's world goes on
    const n = player.frames.length;
    await until(() => player.frames.length > n + 12, 'player frames after the spectator left');
    await player.room.leave();
  });

  it('ignores a spectator\'s input (validated, then dropped); it never drives the view', async () => {
    const player = await join('world', 'still');
    await until(() => player.frames.length > 0, 'player frames');
    const room = serverRoom(player);
    const pp = room.getPlayer(player.room.sessionId)!;
    const view = pp.view!;
    const spec = await joinRoomOf(player, 'pusher', { spectate: player.room.sessionId });
    await until(() => spec.frames.length > 0, 'spectator frames');
    const sp = room.getPlayer(spec.room.sessionId)!;
    const z0 = pp.character!.z;
    let seq = 0;
    const timer = setInterval(() => spec.room.send('input', { seq: ++seq, keys: 1, dx: 0.1, dy: 0 }), 20);
    try {
      const m = spec.frames.length;
      await until(() => seq >= 20 && spec.frames.length > m + 24, 'frames while the spectator presses keys');
    } finally {
      clearInterval(timer);
    }
    await sleep(100); // the last inputs land
    expect(sp.input).toEqual({ keys: 0, lookX: 0, lookY: 0 });
    expect(sp.lastInputSeq).toBe(-1);
    expect(sp.state.inputSeq).toBe(0);
    expect(view.driver).toBe(pp);
    expect(Array.from(view.lastConditioning!.encoded!)).toEqual(new Array(21).fill(0));
    expect(pp.character!.z).toBeCloseTo(z0, 5);
    expect(msgs(spec, 'error')).toHaveLength(0);
    // Still validated: a malformed input is an error; prompt and restart are refused.
    spec.room.send('input', { seq: 1, keys: 99 });
    spec.room.send('prompt', { text: 'a volcano' });
    await until(() => msgs(spec, 'error').length === 2, 'errors');
    expect(msgs<{ code: string }>(spec, 'error').map((e) => e.code)).toEqual(['invalid_message', 'spectator']);
    expect(view.pendingPrompt).toBeNull();
    expect(view.promptVersion).toBe(0);
    await spec.room.leave();
    await player.room.leave();
  });

  it('tells a spectator when its player leaves, and detaches it', async () => {
    const player = await join('world', 'goner');
    await until(() => player.frames.length > 0, 'player frames');
    const room = serverRoom(player);
    const view = room.getPlayer(player.room.sessionId)!.view!;
    const spec = await joinRoomOf(player, 'mourner', { spectate: player.room.sessionId });
    await until(() => spec.frames.length > 0, 'spectator frames');
    const sp = room.getPlayer(spec.room.sessionId)!;
    await player.room.leave();
    await until(() => msgs(spec, 'spectate_ended').length === 1, 'spectate_ended');
    const m = msgs<{ target: string; view: string; reason: string; message: string }>(spec, 'spectate_ended')[0]!;
    expect(m).toMatchObject({ target: player.room.sessionId, view: view.id, reason: 'left' });
    expect(m.message).toMatch(/left/);
    await until(() => view.closed, 'the player\'s world freed');
    expect(sp.view).toBeNull();
    expect(sp.state.view).toBe('');
    const n = spec.frames.length;
    await sleep(300);
    expect(spec.frames.length).toBe(n); // no more frames
    expect(spec.leftCode).toBeNull(); // still in the room
    await spec.room.leave();
  });

  it('refuses to spectate a player who is not in the room', async () => {
    const player = await join('world', 'host2');
    const err = await joinRoomOf(player, 'lost', { spectate: 'no-such-session' }).then(
      () => null,
      (e: unknown) => e as Error & { code?: number },
    );
    expect(err).not.toBeNull();
    expect(err!.message).toMatch(/cannot spectate "no-such-session": no such player/);
    expect(err!.code).toBe(WORLD_ERRORS.NO_SUCH_PLAYER);
    const bad = await joinRoomOf(player, 'lost2', { spectate: 42 }).then(() => null, (e: unknown) => e as Error & { code?: number });
    expect(bad!.message).toMatch(/join option spectate must be a player's session id/);
    expect(bad!.code).toBe(WORLD_ERRORS.BAD_OPTIONS);
    expect(serverRoom(player).getPlayer(player.room.sessionId)).toBeDefined();
    await player.room.leave();
  });

  it('decodes each block exactly once, on one decoder stream per view (a model whose config names its decoder)', async () => {
    const d = namedEngine.decoder!;
    expect(d).not.toBeNull();
    expect(namedEngine.model.decoder).toBe(d); // one decoder: the model's, not a second copy
    const before = d.totals;
    const a = await join('named', 'once-a');
    const b = await join('named', 'once-b');
    await until(() => a.frames.length >= 24 && b.frames.length >= 24, 'frames');
    const room = serverRoom(a);
    const views = [room.getPlayer(a.room.sessionId)!.view!, room.getPlayer(b.room.sessionId)!.view!];
    await Promise.all([a.room.leave(), b.room.leave()]);
    await until(() => views.every((v) => v.closed && v.pendingDeliveries === 0), 'views closed and drained');
    await Promise.all(views.map((v) => v.chain));
    const stepped = views.reduce((n, v) => n + v.state.latentFrames, 0);
    const after = d.totals;
    expect(after.streams - before.streams).toBe(2); // one per view
    expect(after.latentFrames - before.latentFrames).toBe(stepped); // decoder frames in = frames stepped
    expect(stepped).toBeGreaterThanOrEqual(2 * 2 * 3); // at least two blocks of 3 latent frames per view
    expect(after.frames - before.frames).toBeGreaterThanOrEqual(48); // every frame the clients got was decoded there
  });

  it('keeps each block\'s commit off the input-to-frame path: steps run only their denoising forwards, the commits run batched while the engine idles', async () => {
    const m = namedEngine.model;
    expect(m.foldsCommits).toBe(true);
    const step = m.stepMany.bind(m);
    const commit = m.commitPending.bind(m);
    const forwards: number[] = [];
    let commits = 0;
    m.stepMany = async (items) => {
      const r = await step(items);
      for (const b of r) if (!(b instanceof Error)) forwards.push(b.forwards);
      return r;
    };
    m.commitPending = async (ss) => {
      const r = await commit(ss);
      commits += r.committed;
      return r;
    };
    try {
      const c = await join('named', 'eager');
      await until(() => c.frames.length >= 15, 'frames');
      const v = serverRoom(c).getPlayer(c.room.sessionId)!.view!;
      expect(v.session.layout.foldCommit).toBe(true);
      await until(() => !namedEngine.stats.running, 'the engine idle');
      // every block stepped so far is committed already: none waits for the next step
      expect(Math.max(...v.session.kvPages().map((p) => p.frame))).toBe(v.state.latentFrames - 1);
      expect(new Set(forwards)).toEqual(new Set([4]));
      expect(commits).toBeGreaterThanOrEqual(forwards.length - 1);
      await c.room.leave();
    } finally {
      m.stepMany = step;
      m.commitPending = commit;
    }
  });

  it('sends lean frame headers: no action rows or geometry maps, at most 300 bytes a frame', async () => {
    const c = await join('lean', 'lean');
    const sizes: number[] = [];
    c.room.onMessage('frame', (b: Uint8Array) => sizes.push(new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(4, true)));
    await until(() => c.frames.length >= 12, 'frames');
    expect(c.frames.every((h) => h.actions === undefined)).toBe(true);
    expect(sizes.length).toBeGreaterThan(0);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(300);
    // the debug field, when a room asks for it, is bounded and leaves the maps out
    const g = await join('geometry', 'debug');
    await until(() => g.frames.some((h) => h.actions !== undefined), 'a header with actions');
    const withActions = g.frames.find((h) => h.actions !== undefined)!;
    expect(withActions.actions!.length).toBe(3 * 7); // 3 frames × (5 keys + 2 mouse axes); the 8×6×8 maps stay out
    await Promise.all([c.room.leave(), g.room.leave()]);
  });

  it('answers stats requests with server, engine and KV figures', async () => {
    const c = await join('world', 'stats');
    await until(() => c.frames.length > 0, 'frames');
    c.room.send('stats');
    await until(() => msgs(c, 'stats').length === 1, 'stats');
    const s = msgs<{ server: { rss: number }; engine: { batches: number; blocks: number }; kv: { sessions: number }; you: { framesSent: number } }>(c, 'stats')[0]!;
    expect(s.server.rss).toBeGreaterThan(0);
    expect(s.engine.blocks).toBeGreaterThanOrEqual(s.engine.batches);
    expect(s.kv.sessions).toBeGreaterThanOrEqual(1);
    expect(s.you.framesSent).toBeGreaterThan(0);
    await c.room.leave();
  });
});

// A WorldRoom whose model's decoder takes the view's geometry (test/helpers/geometry_model.ts:
// a tiny geometry DiT with a tiny geometry TAEHV, 8 map channels, frames 48×64, maps 12×16 at
// 1 ray a pixel — the DiT's 6×8 map at 2×2 rays is their pool): every frame a client gets was
// decoded with the map of its own latent frame, drawn from the driver's pose of that frame
// (and the other characters where physics has them), and a block's maps are let go of once
// decoded; a shared view without a driver keeps its maps at its last pose.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Server } from '@colyseus/core';
import { WebSocketTransport } from '@colyseus/ws-transport';
import { ColyseusTestServer } from '@colyseus/testing';
import { ColyseusSDK, type Room as ClientRoom } from '@colyseus/sdk';

import {
  GEOMETRY_CHANNELS,
  WorldEngine,
  WorldRoom,
  decodeEnvelope,
  defaultLevel,
  eyeFromCharacter,
  freePort,
  groupMotion,
  renderGeometry,
  signToken,
  type BlockMeta,
  type CharacterShape,
  type FrameHeader,
  type TickMotion,
  type WorldRoomOptions,
  type WorldView,
} from '../gameserver/src/index.js';
import type { LatentBlock, Pose } from '../sdk/src/index.js';
import { GEO_MAP, writeGeometryModel } from './helpers/geometry_model.js';
import { sleep, until } from './helpers/room_clients.js';

const SECRET = 'geometry-secret-0123456789abcdef';
const G = GEOMETRY_CHANNELS;
/** Frames 48×64 (6×8 latents × 8), maps 12×16 (scale 4) at 1 ray a pixel, near 5 (the DiT's). */
const { channels: _, ...MAP } = GEO_MAP;

/** What the room handed to delivery, per block: its latents and the decoder maps of its frames. */
interface Delivered {
  block: number;
  latents: LatentBlock;
  maps: (Float32Array | undefined)[] | null;
  /** The block's meta, to see delivery let go of the maps. */
  meta: BlockMeta;
}

/** Records each block's ticks and maps as conditioned, and its latents and maps as handed to delivery. */
class GeoRoom extends WorldRoom {
  static conditioned: { view: string; ticks: TickMotion[]; maps: (Float32Array | undefined)[]; characters: CharacterShape[]; driver: boolean; pose: Pose | undefined }[] = [];
  static delivered = new Map<string, Delivered[]>();
  override async onCreate(o: unknown): Promise<void> {
    await super.onCreate(o);
    const d = this.delivery;
    const enqueue = d.enqueue.bind(d);
    d.enqueue = (v: WorldView, meta: BlockMeta, b: LatentBlock, onError: (e: unknown) => void) => {
      const l = GeoRoom.delivered.get(v.id) ?? [];
      l.push({ block: meta.block, latents: b, maps: meta.frameGeometry, meta });
      GeoRoom.delivered.set(v.id, l);
      enqueue(v, meta, b, onError);
    };
  }
  protected override conditioningFor(v: WorldView, ticks: readonly TickMotion[]): ReturnType<WorldRoom['conditioningFor']> {
    const c = super.conditioningFor(v, ticks);
    // (the characters as super drew them: the same tick, the same physics)
    GeoRoom.conditioned.push({ view: v.id, ticks: [...ticks], maps: c.inputs.map((a) => a.frameGeometry), characters: this.charactersSeenBy(v.driver), driver: v.driver !== null, pose: v.driver?.character?.pose() });
    return c;
  }
}

interface Watched {
  room: ClientRoom;
  frames: { header: FrameHeader; payload: Buffer }[];
  ended: unknown[];
}

describe('WorldRoom with a geometry-conditioned decoder', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'wc-geo-decoder-'));
  const modelDir = join(tmp, 'model');
  let engine: WorldEngine;
  let server: Server;
  let colyseus: ColyseusTestServer;
  const open: ClientRoom[] = [];
  const base: WorldRoomOptions = { tickRate: 50, ticksPerBlock: 3, blockFrames: 3, auth: { secret: SECRET }, reconnectGraceSeconds: 1, codec: 'raw' };

  async function joinRoom(name: string, sub: string): Promise<Watched> {
    const s = new ColyseusSDK(colyseus.sdk.settings);
    s.auth.token = signToken(SECRET, { sub });
    const room = await s.joinOrCreate(name, {});
    room.reconnection.enabled = false;
    open.push(room);
    const w: Watched = { room, frames: [], ended: [] };
    room.onMessage('frame', (b: Uint8Array) => {
      const { header, payload } = decodeEnvelope(b);
      w.frames.push({ header, payload: Buffer.from(payload) });
    });
    room.onMessage('session_ended', (m: unknown) => w.ended.push(m));
    for (const t of ['welcome', 'prompt', 'error']) room.onMessage(t, () => undefined);
    return w;
  }
  const serverRoom = (w: Watched): GeoRoom => colyseus.getRoomById(w.room.roomId) as unknown as GeoRoom;

  beforeAll(async () => {
    writeGeometryModel(modelDir);
    engine = await WorldEngine.load({ modelDir, threads: 1, decoderPrecision: 'f32' });
    server = new Server({ transport: new WebSocketTransport({ maxPayload: 16 * 1024 }), greet: false, gracefullyShutdown: false });
    server.define('geo', GeoRoom, { ...base, engine });
    server.define('geo-shared', GeoRoom, { ...base, engine, mode: 'shared' });
    await server.listen(await freePort(), '127.0.0.1');
    colyseus = new ColyseusTestServer(server);
  });

  afterAll(async () => {
    for (const r of open) if (r.connection?.isOpen) await Promise.race([r.leave(), sleep(500)]);
    await colyseus?.shutdown();
    engine?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('the model says its decoder takes an 8-channel map per frame at 12×16, 1 ray a pixel', () => {
    expect(engine.decoder?.info().geometry).toEqual({ channels: G, scale: 4, samples: 1, near: 5 });
    expect(engine.model.actionSpace?.frameGeometry).toEqual({ channels: G, ...MAP });
  });

  it('decodes every frame with the map of its own latent frame, drawn from the pose of that frame', async () => {
    GeoRoom.conditioned = [];
    GeoRoom.delivered.clear();
    const a = await joinRoom('geo', 'walker');
    const b = await joinRoom('geo', 'other'); // a second player: a character in a's view
    let seq = 0;
    // walk and turn: every frame sees another view
    const timer = setInterval(() => {
      seq++;
      a.room.send('input', { seq, keys: 1, dx: 0.5, dy: 0 });
      b.room.send('input', { seq, keys: 0, dx: -0.3, dy: 0 });
    }, 20);
    try {
      await until(() => a.frames.length >= 5 * 3, '5 blocks of frames', 20000);
    } finally {
      clearInterval(timer);
    }
    const room = serverRoom(a);
    const view = room.getPlayer(a.room.sessionId)!.view!;
    await a.room.leave();
    await until(() => view.closed && view.pendingDeliveries === 0, 'view closed and drained', 10000);
    await view.chain;

    const delivered = GeoRoom.delivered.get(view.id)!;
    const conditioned = GeoRoom.conditioned.filter((c) => c.view === view.id);
    const blocks = new Set(a.frames.map((f) => f.header.block));
    expect(blocks.size).toBeGreaterThanOrEqual(4);
    // each block's maps: one per latent frame, the map renderGeometry draws from that frame's pose
    for (const d of delivered) {
      const c = conditioned[d.block]!;
      expect(d.maps).toHaveLength(d.latents.frames);
      const groups = groupMotion(c.ticks, d.latents.frames);
      d.maps!.forEach((m, f) => {
        expect(m).toBe(c.maps[f]); // the very map conditioning drew for frame f
        expect(m!.length).toBe(G * MAP.height * MAP.width);
        const pose = groups[f]!.pose ?? c.pose; // a frame without ticks stands where the driver is
        expect(pose).toBeDefined();
        expect(m).toEqual(renderGeometry(defaultLevel, eyeFromCharacter(pose!), MAP.width, MAP.height, { samples: 1, near: 5, characters: c.characters }));
      });
      // delivery took them: the block's meta and its inputs hold none any more
      expect(d.meta.frameGeometry).toBeNull();
    }
    expect(view.lastConditioning!.inputs.every((i) => i.frameGeometry === undefined)).toBe(true);
    // the maps change from frame to frame (walking and turning), so a frame decoded with another frame's map would differ
    const moving = delivered.find((d) => d.block >= 1 && d.maps!.some((m) => m!.some((x, i) => x !== d.maps![0]![i])))!;
    expect(moving).toBeDefined();

    // The frames the client got are those of a fresh stream decoding the same latents, frame
    // by frame, each with its own map — and not those with the maps of the wrong frames.
    const stream = engine.decoder!.createStream();
    const plane = 6 * 8;
    const got = new Map(a.frames.map((f) => [`${f.header.block}/${f.header.frame}`, f.payload]));
    let compared = 0;
    let swappedDiffers = false;
    try {
      for (const d of delivered) {
        const { latents: blk } = d;
        for (let f = 0; f < blk.frames; f++) {
          const one = new Float32Array(blk.channels * plane);
          for (let ch = 0; ch < blk.channels; ch++) one.set(blk.latents.subarray((ch * blk.frames + f) * plane, (ch * blk.frames + f + 1) * plane), ch * plane);
          if (d === moving && f === 1) {
            // the same state, another frame's map: other pixels
            const fork = await stream.fork();
            const wrong = await fork.decode(one, 1, 6, 8, { geometry: d.maps![f === 1 ? 2 : 1]! });
            await fork.close();
            const right = got.get(`${d.block}/${f}`);
            if (right && !Buffer.from(wrong.frames[0]!).equals(right)) swappedDiffers = true;
          }
          const out = await stream.decode(one, 1, 6, 8, { geometry: d.maps![f]! });
          expect(out.frames).toHaveLength(1);
          const sent = got.get(`${d.block}/${f}`);
          if (sent === undefined) continue; // not sent: the view closed before its slot
          expect([out.width, out.height]).toEqual([64, 48]);
          expect(Buffer.from(out.frames[0]!).equals(sent)).toBe(true);
          compared++;
        }
      }
    } finally {
      await stream.close();
    }
    expect(compared).toBeGreaterThanOrEqual(12);
    expect(swappedDiffers).toBe(true);
    expect(a.ended).toEqual([]);
    await b.room.leave();
  }, 60000);

  it('keeps decoding a shared view that a spectator watches while its only player is away: its maps stay at the last pose', async () => {
    GeoRoom.conditioned = [];
    GeoRoom.delivered.clear();
    const host = await joinRoom('geo-shared', 'host');
    await until(() => host.frames.length >= 6, 'first frames', 20000);
    const room = serverRoom(host);
    const p = room.getPlayer(host.room.sessionId)!;
    const view = p.view!;
    const s = new ColyseusSDK(colyseus.sdk.settings);
    s.auth.token = signToken(SECRET, { sub: 'watcher' });
    const spec = await s.joinById(host.room.roomId, { spectate: host.room.sessionId });
    spec.reconnection.enabled = false;
    open.push(spec);
    const seen: FrameHeader[] = [];
    spec.onMessage('frame', (b: Uint8Array) => seen.push(decodeEnvelope(b).header));
    for (const t of ['welcome', 'prompt', 'error', 'session_ended', 'spectate_ended']) spec.onMessage(t, () => undefined);
    await until(() => seen.length >= 3, 'spectator frames', 20000);
    await host.room.leave(false); // the socket drops: the player is away (its grace period), the spectator watches on
    await until(() => !p.connected, 'server sees the drop');
    const last = view.lastPose;
    expect(last).not.toBeNull();
    const n = seen.length;
    await until(() => GeoRoom.conditioned.some((c) => c.view === view.id && !c.driver) && seen.length >= n + 6, 'blocks without a driver, decoded', 20000);
    const away = GeoRoom.conditioned.filter((c) => c.view === view.id && !c.driver);
    for (const c of away) {
      expect(c.maps.every((m) => m !== undefined)).toBe(true);
      // the last pose, with its player's eyes: its own body is not in its view
      expect(c.characters).toHaveLength(1);
      for (const m of c.maps) expect(m).toEqual(renderGeometry(defaultLevel, eyeFromCharacter(last!), MAP.width, MAP.height, { samples: 1, near: 5 }));
    }
    expect(view.ended).toBe(false);
    await spec.leave();
  }, 60000);
});

// Characters in the world (issue 19, parts 1–2): the truth renderer and the geometry map
// draw every character where physics has it — a capsule in its own colour with a visor on
// the side it faces — and a room conditions each player's world on the others.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join as pjoin } from 'node:path';

import { Server } from '@colyseus/core';
import { WebSocketTransport } from '@colyseus/ws-transport';
import { ColyseusTestServer } from '@colyseus/testing';
import { ColyseusSDK, type Room as ClientRoom } from '@colyseus/sdk';

import {
  CHARACTER_COLORS,
  GEOMETRY_CHANNELS,
  PhysicsWorld,
  VISOR_COLOR,
  Walker,
  WorldEngine,
  WorldRoom,
  defaultLevel,
  eyeFromCharacter,
  freePort,
  renderGeometry,
  renderView,
  signToken,
  type CharacterShape,
  type Level,
  type TickMotion,
  type WorldView,
} from '../gameserver/src/index.js';
import { fixtures } from './helpers/fixtures.js';
import { msgs, sleep, until, watch, type Client } from './helpers/room_clients.js';

/** An empty floor: nothing but the character can be in front of the camera. */
const open: Level = { name: 'open', floor: { halfExtents: [20, 20] }, boxes: [], spawns: [{ position: [0, 0, 0], yaw: 0 }, { position: [0, 0, -4], yaw: 0 }] };
const eye = { x: 0, y: 1.6, z: 0, yaw: 0, pitch: 0 }; // looking at -Z
const red: CharacterShape = { x: 0, y: 0, z: -3, yaw: Math.PI, radius: 0.3, height: 1.8, color: [0.9, 0.1, 0.1] }; // faces the camera (+Z)
const W = 64, H = 64;
const px = (img: Uint8Array, x: number, y: number): number[] => [img[(y * W + x) * 3]!, img[(y * W + x) * 3 + 1]!, img[(y * W + x) * 3 + 2]!];

describe('characters in the truth renderer and the geometry map', () => {
  it('draws a character where it stands, in its colour, and nothing of it elsewhere', () => {
    const without = renderView(open, eye, 'day', W, H);
    const withRed = renderView(open, eye, 'day', W, H, undefined, [red]);
    expect(renderView(open, eye, 'day', W, H, undefined, [])).toEqual(without); // no characters: the same bytes
    // Its body at 3 m straight ahead is in the middle column, below the eye line; red dominates there.
    const [r, g, b] = px(withRed, W / 2, H / 2 + 6);
    expect(r).toBeGreaterThan(2 * g);
    expect(r).toBeGreaterThan(2 * b);
    // Away from it (a quarter of the width to the side) the frame is unchanged.
    for (const x of [4, W - 5]) expect(px(withRed, x, H / 2 + 6)).toEqual(px(without, x, H / 2 + 6));
  });

  it('shows which way it faces: the visor band only on the side it looks to', () => {
    const facing = renderView(open, eye, 'day', W, H, undefined, [red]);
    const away = renderView(open, eye, 'day', W, H, undefined, [{ ...red, yaw: 0 }]);
    // The visor is at 70–86% of 1.8 m (1.26–1.55 m), just below the eye height of 1.6 m.
    const rowVisor = Math.round(H / 2 + (H / 2) * ((1.6 - 1.4) / 3) / Math.tan((75 * Math.PI) / 360));
    const v = px(facing, W / 2, rowVisor);
    const back = px(away, W / 2, rowVisor);
    expect(Math.min(...v)).toBeGreaterThan(150); // light: the visor
    expect(back[1]!).toBeLessThan(0.5 * back[0]!); // red: its back
  });

  it('the geometry map draws it in the same 8 channels: albedo, coverage, nearness, normal', () => {
    const g0 = renderGeometry(open, eye, 16, 16, { samples: 2, near: 8 });
    const g1 = renderGeometry(open, eye, 16, 16, { samples: 2, near: 8, characters: [red] });
    expect(g1.length).toBe(GEOMETRY_CHANNELS * 256);
    const at = (g: Float32Array, ch: number, x: number, y: number) => g[ch * 256 + y * 16 + x]!;
    // the pixel of its body (below the visor): red albedo, covered, nearer than the floor behind it, normal toward the camera (+Z)
    const x = 8, y = 11;
    expect(at(g1, 0, x, y)).toBeCloseTo(0.9, 1);
    expect(at(g1, 1, x, y)).toBeCloseTo(0.1, 1);
    expect(at(g1, 3, x, y)).toBe(1);
    expect(at(g1, 4, x, y)).toBeGreaterThan(at(g0, 4, x, y));
    expect(at(g1, 7, x, y)).toBeGreaterThan(0.5);
    // a corner of the map is untouched
    for (let ch = 0; ch < GEOMETRY_CHANNELS; ch++) expect(at(g1, ch, 0, 15)).toBe(at(g0, ch, 0, 15));
  });

  it('is drawn from the physics character (Character.shape), hidden by a wall in front of it', async () => {
    const wall: Level = { ...open, boxes: [{ center: [0, 1.5, -2], halfExtents: [3, 1.5, 0.2] }] };
    const world = await PhysicsWorld.create(wall);
    try {
      const c = world.addCharacter({ position: [0, 0, -4], yaw: Math.PI });
      world.step(1 / 30);
      const shape = c.shape([0.1, 0.2, 0.9]);
      expect(shape).toMatchObject({ radius: c.params.radius, height: 2 * (c.params.halfHeight + c.params.radius) });
      expect(renderView(wall, eye, 'day', W, H, undefined, [shape])).toEqual(renderView(wall, eye, 'day', W, H)); // behind the wall
      expect(renderView(open, eye, 'day', W, H, undefined, [shape])).not.toEqual(renderView(open, eye, 'day', W, H));
    } finally {
      world.free();
    }
  });

  it('refuses a malformed character', () => {
    expect(() => renderView(open, eye, 'day', 8, 8, undefined, [{ ...red, radius: 0 }])).toThrow(/radius > 0/);
    expect(() => renderGeometry(open, eye, 8, 8, { characters: [{ ...red, x: Number.NaN }] })).toThrow(/finite/);
  });

  it('has distinct colours for characters and a visor colour unlike any of them', () => {
    expect(new Set(CHARACTER_COLORS.map((c) => c.join())).size).toBe(CHARACTER_COLORS.length);
    for (const c of CHARACTER_COLORS) expect(c.join()).not.toBe(VISOR_COLOR.join());
  });
});

describe('scripted walkers', () => {
  it('walk their loop of waypoints through the character controller, and walls stop them', async () => {
    const lvl: Level = { name: 'walk', floor: { halfExtents: [20, 20] }, boxes: [], spawns: [{ position: [0, 0, 5] }], walkers: [{ path: [[0, 0], [4, 0]], color: [0.2, 0.8, 0.2] }] };
    const world = await PhysicsWorld.create(lvl);
    try {
      const w = new Walker(world, lvl.walkers![0]!, CHARACTER_COLORS[0]!);
      expect(w.color).toEqual([0.2, 0.8, 0.2]);
      let maxX = 0;
      const xs: number[] = [];
      for (let t = 0; t < 30 * 6; t++) {
        w.step(1 / 30);
        world.step(1 / 30);
        maxX = Math.max(maxX, w.character.x);
        xs.push(w.character.x);
      }
      expect(maxX).toBeGreaterThan(3.6); // reached the far waypoint (4 m at 4 m/s: within ~1.5 s)
      expect(Math.min(...xs.slice(90))).toBeLessThan(0.5); // and came back round
      expect(Math.abs(w.character.z)).toBeLessThan(0.3); // on its line
    } finally {
      world.free();
    }
    const walled: Level = { ...lvl, boxes: [{ center: [2, 1.5, 0], halfExtents: [0.2, 1.5, 3] }] };
    const w2 = await PhysicsWorld.create(walled);
    try {
      const w = new Walker(w2, walled.walkers![0]!, CHARACTER_COLORS[0]!);
      for (let t = 0; t < 30 * 3; t++) {
        w.step(1 / 30);
        w2.step(1 / 30);
      }
      expect(w.character.x).toBeLessThan(1.8); // the wall at x = 1.8..2.2 stops it
    } finally {
      w2.free();
    }
  });

  it('levels declare them; a bad walker is refused with the field named', async () => {
    const { validateLevel } = await import('../world/src/index.js');
    expect(() => validateLevel({ ...open, walkers: [{ path: [] }] })).toThrow(/walkers\[0\]\.path/);
    expect(() => validateLevel({ ...open, walkers: [{ path: [[0, 0]], pause: -1 }] })).toThrow(/walkers\[0\]\.pause/);
    expect(() => validateLevel({ ...open, walkers: [{ path: [[0, 0]], color: [2, 0, 0] }] })).toThrow(/walkers\[0\]\.color/);
  });
});

/** Records each block's conditioning with the player whose view it is. */
class SeeingRoom extends WorldRoom {
  static seen: { view: string; geometry: Float32Array | undefined; others: number }[] = [];
  protected override conditioningFor(v: WorldView, ticks: readonly TickMotion[]): ReturnType<WorldRoom['conditioningFor']> {
    const c = super.conditioningFor(v, ticks);
    SeeingRoom.seen.push({ view: v.id, geometry: c.geometry, others: this.charactersSeenBy(v.driver).length });
    return c;
  }
}

describe('a room conditions each player on the characters physics has in front of it', () => {
  const SECRET = 'characters-secret-0123456789abcdef';
  let engine: WorldEngine;
  let server: Server;
  let colyseus: ColyseusTestServer;
  const rooms: ClientRoom[] = [];
  // A and B spawn 4 m apart on one line, both facing -Z: B stands in A's view, A behind B.
  const lineUp: Level = { name: 'line', floor: { halfExtents: [20, 20] }, boxes: [], spawns: [{ position: [0, 0, 0], yaw: 0 }, { position: [0, 0, -4], yaw: 0 }] };

  beforeAll(async () => {
    engine = await WorldEngine.load({ modelDir: pjoin(fixtures, 'tiny_geometry'), decoderDir: pjoin(fixtures, 'taehv_tiny'), threads: 1 });
    server = new Server({ transport: new WebSocketTransport({ maxPayload: 16 * 1024 }), greet: false, gracefullyShutdown: false });
    server.define('line', SeeingRoom, { engine, level: lineUp, auth: { secret: SECRET }, tickRate: 50, ticksPerBlock: 3, blockFrames: 3, reconnectGraceSeconds: 0 });
    server.define('walkers', SeeingRoom, { engine, level: { ...lineUp, walkers: [{ path: [[-3, -3], [3, -3]] }] }, auth: { secret: SECRET }, tickRate: 50, ticksPerBlock: 3, blockFrames: 3, reconnectGraceSeconds: 0 });
    server.define('weather', WorldRoom, { engine: await WorldEngine.load({ modelDir: pjoin(fixtures, 'tiny'), threads: 1 }), auth: { secret: SECRET }, tickRate: 50, ticksPerBlock: 3, prompt: 'day', promptEncoder: { encode: () => new Float32Array(32).fill(0.1) } });
    const port = await freePort();
    await server.listen(port, '127.0.0.1');
    colyseus = new ColyseusTestServer(server);
  });
  afterAll(async () => {
    for (const r of rooms) if (r.connection?.isOpen) await Promise.race([r.leave(), sleep(500)]);
    await colyseus?.shutdown();
    engine?.close();
  });

  async function join(room: string, sub: string, opts: Record<string, unknown> = {}): Promise<Client> {
    const s = new ColyseusSDK(colyseus.sdk.settings);
    s.auth.token = signToken(SECRET, { sub });
    const r = opts.roomId ? await s.joinById(opts.roomId as string) : await s.joinOrCreate(room);
    r.reconnection.enabled = false;
    rooms.push(r);
    return watch(r);
  }

  it("B appears in A's geometry maps where B stands, in B's colour, and is gone after B leaves", async () => {
    SeeingRoom.seen = [];
    const a = await join('line', 'alice');
    await until(() => a.frames.length > 0, 'A frames');
    const room = colyseus.getRoomById(a.room.roomId) as unknown as SeeingRoom;
    const pa = room.getPlayer(a.room.sessionId)!;
    const viewA = pa.view!.id;
    const alone = SeeingRoom.seen.filter((s) => s.view === viewA).at(-1)!;
    expect(alone.others).toBe(0);
    const b = await join('line', 'bob', { roomId: a.room.roomId });
    const pb = room.getPlayer(b.room.sessionId)!;
    expect(pb.character!.spawnIndex).toBe(1); // 4 m in front of A
    const n = SeeingRoom.seen.length;
    await until(() => SeeingRoom.seen.slice(n).some((s) => s.view === viewA && s.others === 1), "a block of A's with B in it");
    const withB = SeeingRoom.seen.slice(n).find((s) => s.view === viewA && s.others === 1)!;
    // The map is the renderer's, from A's pose, with B's capsule in B's colour where B stands.
    const latent = { height: 6, width: 8 };
    const plane = latent.height * latent.width;
    const F = 3;
    const last = (g: Float32Array) => Array.from({ length: GEOMETRY_CHANNELS }, (_, ch) => [...g.subarray((ch * F + F - 1) * plane, (ch * F + F) * plane)]).flat();
    const expected = renderGeometry(lineUp, eyeFromCharacter(pa.character!.pose()), latent.width, latent.height, { samples: 2, near: 5, characters: [pb.character!.shape(pb.color)] });
    const without = renderGeometry(lineUp, eyeFromCharacter(pa.character!.pose()), latent.width, latent.height, { samples: 2, near: 5 });
    expect(last(withB.geometry!)).toEqual([...expected]);
    expect(last(withB.geometry!)).not.toEqual([...without]);
    expect(pb.color).not.toEqual(pa.color);
    // B looks away from A: A is not in front of B, but its body is still B's "other character".
    expect(SeeingRoom.seen.slice(n).filter((s) => s.view === pb.view!.id).every((s) => s.others === 1)).toBe(true);
    await b.room.leave();
    await until(() => room.getPlayer(b.room.sessionId) === undefined, 'B gone');
    const m = SeeingRoom.seen.length;
    await until(() => SeeingRoom.seen.slice(m).some((s) => s.view === viewA), "A's next block");
    const after = SeeingRoom.seen.slice(m).find((s) => s.view === viewA)!;
    expect(after.others).toBe(0);
    expect(last(after.geometry!)).toEqual([...without]);
    await a.room.leave();
  });

  it("a level's walkers are in every player's maps", async () => {
    SeeingRoom.seen = [];
    const a = await join('walkers', 'watcher');
    await until(() => SeeingRoom.seen.length > 2, 'blocks');
    const room = colyseus.getRoomById(a.room.roomId) as unknown as SeeingRoom;
    expect(SeeingRoom.seen.every((s) => s.others === 1)).toBe(true); // the walker
    const walker = (room as unknown as { walkers: Walker[] }).walkers[0]!;
    const x0 = walker.character.x;
    await until(() => Math.abs(walker.character.x - x0) > 0.5, 'the walker moves on the room clock');
    await a.room.leave();
  });

  it('a prompt changes the whole room by default: every player sees the same weather', async () => {
    const a = await join('weather', 'sun');
    const b = await join('weather', 'rain', { roomId: a.room.roomId });
    await until(() => a.frames.length > 0 && b.frames.length > 0, 'frames');
    const night = (c: Client) => msgs<{ text: string }>(c, 'prompt').some((m) => m.text === 'night');
    a.room.send('prompt', { text: 'night' });
    await until(() => night(a) && night(b), 'both views acknowledge the night'); // B never asked for it
    const room = colyseus.getRoomById(a.room.roomId) as unknown as WorldRoom;
    for (const v of room.state.views.values()) expect(v.prompt).toBe('night');
    // a player joining later starts with the room's weather
    const c = await join('weather', 'late', { roomId: a.room.roomId });
    await until(() => msgs(c, 'welcome').length > 0, 'welcome');
    await until(() => [...room.state.views.values()].every((v) => v.prompt === 'night'), "the late view's prompt");
    await Promise.all([a.room.leave(), b.room.leave(), c.room.leave()]);
  });
});

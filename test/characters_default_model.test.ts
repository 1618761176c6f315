// Issue 19, end to end on the default model: two real @colyseus/sdk clients in one room of the
// yard; player B walks into player A's view, stands there, and walks away again. The truth
// renderer (from A's pose, with B's capsule where the room had it for each of A's blocks) says
// where B stands in each of A's frames; the eval's character detector (tools/eval/characters.ts,
// pixels only) looks for B's colour in A's frames.
//
// The first test checks the scenario itself (B is visible in A's truth frames while it stands
// there, gone after it left, and the detector finds it on those truth frames). The second
// holds A's model frames to it: B shown where B stands (in >= 80% of the frames), and not after
// B left (from the second block on, in <= 10%). The default weights before their sharp stage
// drew a smudge there (0 of 24 frames: this was an `it.fails`); these show B in 24 of 24.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join as pjoin } from 'node:path';

import { Server } from '@colyseus/core';
import { WebSocketTransport } from '@colyseus/ws-transport';
import { ColyseusTestServer } from '@colyseus/testing';
import { ColyseusSDK, type Room as ClientRoom } from '@colyseus/sdk';

import {
  KEY_BITS,
  WorldEngine,
  WorldRoom,
  decodeEnvelope,
  defaultLevel,
  eyeFromCharacter,
  freePort,
  renderView,
  signToken,
  type BlockMeta,
  type CharacterShape,
  type FrameHeader,
  type TickMotion,
  type WorldView,
} from '../gameserver/src/index.js';
import type { Pose } from '../sdk/src/index.js';
import { colorIndex, detectCharacters, matchDetections, viewTruth, type TruthCharacter } from '../tools/eval/characters.js';
import { root } from './helpers/fixtures.js';
import { sleep, until } from './helpers/room_clients.js';

const SECRET = 'characters-e2e-secret-0123456789abcdef';
const S = 128;
/** B walks from its spawn (2 m to A's right, facing A's way) this far ahead: into A's view, ~27° right of its centre. */
const STAND_Z = -4;
/** Blocks of A's recorded with B standing there, and after B has gone. */
const BLOCKS = 8;

/** What each of A's blocks was conditioned on: A's pose and the other characters' shapes at its submission. */
class RecordingRoom extends WorldRoom {
  static blocks = new Map<string, { pose: Pose; others: CharacterShape[] }>();
  #pending = new Map<string, { pose: Pose; others: CharacterShape[] }>();
  protected override conditioningFor(v: WorldView, ticks: readonly TickMotion[]): ReturnType<WorldRoom['conditioningFor']> {
    const c = super.conditioningFor(v, ticks);
    const pose = v.driver?.character?.pose();
    if (pose) this.#pending.set(v.id, { pose, others: this.charactersSeenBy(v.driver) });
    return c;
  }
  protected override onBlockSubmitted(v: WorldView, meta: BlockMeta): void {
    const p = this.#pending.get(v.id);
    if (p) RecordingRoom.blocks.set(`${v.id}/${meta.block}`, p);
  }
}

interface Frame {
  header: FrameHeader;
  rgb: Uint8Array;
}

describe("default model: B walks into A's view and out again (issue 19)", () => {
  let engine: WorldEngine;
  let server: Server;
  let colyseus: ColyseusTestServer;
  const rooms: ClientRoom[] = [];
  /** A's frames of the two phases, with the truth of each (B's colour index too). */
  let recorded: { standing: { frame: Frame; truth: TruthCharacter[]; pose: Pose }[]; gone: { frame: Frame; truth: TruthCharacter[]; pose: Pose }[]; color: number } | null = null;

  beforeAll(async () => {
    engine = await WorldEngine.load({ modelDir: pjoin(root, 'models', 'default'), threads: 2 });
    server = new Server({ transport: new WebSocketTransport({ maxPayload: 16 * 1024 }), greet: false, gracefullyShutdown: false });
    server.define('yard', RecordingRoom, { engine, level: defaultLevel, auth: { secret: SECRET }, codec: 'raw', prompt: 'day', reconnectGraceSeconds: 0 });
    await server.listen(await freePort(), '127.0.0.1');
    colyseus = new ColyseusTestServer(server);
  });
  afterAll(async () => {
    for (const r of rooms) if (r.connection?.isOpen) await Promise.race([r.leave(), sleep(500)]);
    await colyseus?.shutdown();
    engine?.close();
  });

  async function join(sub: string, roomId?: string): Promise<{ room: ClientRoom; frames: Frame[] }> {
    const s = new ColyseusSDK(colyseus.sdk.settings);
    s.auth.token = signToken(SECRET, { sub });
    const room = roomId ? await s.joinById(roomId) : await s.joinOrCreate('yard');
    room.reconnection.enabled = false;
    rooms.push(room);
    const frames: Frame[] = [];
    room.onMessage('frame', (b: Uint8Array) => {
      const { header, payload } = decodeEnvelope(b);
      if (header.codec === 'raw') frames.push({ header, rgb: Uint8Array.from(payload) });
    });
    return { room, frames };
  }

  it("the scenario: B stands in A's view (the truth shows it, the detector finds it there), then is gone from it", async () => {
    RecordingRoom.blocks.clear();
    const a = await join('alice');
    await until(() => a.frames.length >= 6, "A's first frames", 60_000);
    const room = colyseus.getRoomById(a.room.roomId) as unknown as RecordingRoom;
    const b = await join('bob', a.room.roomId);
    const pb = room.getPlayer(b.room.sessionId)!;
    expect(pb.character!.spawnIndex).toBe(1); // 2 m to A's right, facing the way A looks: out of A's view
    const color = colorIndex(pb.color);
    expect(color).toBeGreaterThanOrEqual(0);
    let seq = 0;
    const hold = (keys: number) => b.room.send('input', { seq: seq++, keys, dx: 0, dy: 0 });

    // B's place (z) in the block each of A's frames came from (frames can arrive well after their block was submitted)
    const bz = (f: Frame): number | undefined => RecordingRoom.blocks.get(`${f.header.view}/${f.header.block}`)?.others.find((o) => colorIndex(o.color) === color)?.z;
    // B walks forward into A's view and stops there
    hold(KEY_BITS.w);
    await until(() => pb.character!.z <= STAND_Z, 'B at its place', 20_000);
    hold(0);
    const standingFrames = () => a.frames.filter((f) => (bz(f) ?? 0) <= STAND_Z);
    await until(() => standingFrames().length >= BLOCKS * 3, "A's frames with B standing there", 120_000);
    const standing = standingFrames();
    // B walks back out of A's view (behind its shoulder)
    const n1 = a.frames.length;
    hold(KEY_BITS.s);
    await until(() => pb.character!.z >= 0.5, 'B back out of the view', 20_000);
    hold(0);
    const goneFrames = () => a.frames.slice(n1).filter((f) => (bz(f) ?? -Infinity) >= 0.5);
    await until(() => goneFrames().length >= BLOCKS * 3, "A's frames after B left", 120_000);
    const gone = goneFrames();

    const truthOf = (f: Frame) => {
      const rec = RecordingRoom.blocks.get(`${f.header.view}/${f.header.block}`);
      if (!rec) return null;
      const cam = eyeFromCharacter(rec.pose);
      const truthFrame = renderView(defaultLevel, cam, 'day', S, S, undefined, rec.others);
      return { frame: f, pose: rec.pose, truth: viewTruth(defaultLevel, cam, rec.others, truthFrame, 'day', S, S), truthFrame };
    };
    const st = standing.map(truthOf).filter((x) => x !== null);
    const go = gone.map(truthOf).filter((x) => x !== null);
    const isVisible = (x: { truth: TruthCharacter[] }): boolean => x.truth.some((t) => t.color === color && t.visible);
    expect(st.length).toBeGreaterThanOrEqual(BLOCKS * 3);
    expect(go.length).toBeGreaterThanOrEqual(BLOCKS * 3);
    for (const x of st) expect(x.frame.header.width).toBe(S);
    // while B stands there the truth shows B in A's view, and the detector finds it in those truth frames
    const visible = st.filter(isVisible);
    expect(visible.length).toBe(st.length);
    const onTruth = visible.filter((x) => matchDetections(x.truth, detectCharacters(x.truthFrame, S, S, 'day', { level: defaultLevel, colors: [color], pitch: x.pose.pitch })).found.length > 0);
    expect(onTruth.length).toBeGreaterThanOrEqual(0.95 * visible.length);
    // after B left, nothing of it in A's view
    expect(go.some(isVisible)).toBe(false);
    recorded = { standing: st, gone: go, color };
    await Promise.all([a.room.leave(), b.room.leave()]);
  }, 300_000);

  it("A's frames show B where B stands, and no longer after B walked away", () => {
    if (!recorded) throw new Error("the scenario test did not record A's frames");
    const { standing, gone, color } = recorded;
    const opts = (pitch: number) => ({ level: defaultLevel, colors: [color], pitch });
    const shown = standing.filter((x) => matchDetections(x.truth, detectCharacters(x.frame.rgb, S, S, 'day', opts(x.pose.pitch))).found.length > 0);
    const later = gone.slice(3);
    const still = later.filter((x) => detectCharacters(x.frame.rgb, S, S, 'day', opts(x.pose.pitch)).length > 0);
    console.log(`A's model frames: B shown in ${shown.length}/${standing.length} while B stood in view; a detection in ${still.length}/${later.length} after B left`);
    expect(shown.length).toBeGreaterThanOrEqual(0.8 * standing.length);
    // gone within one block of B leaving the view: from the second block on, no detection of B's colour (at most 10% of the frames);
    // these frames' blocks were conditioned on B already out of the view
    expect(still.length).toBeLessThanOrEqual(0.1 * later.length);
  });
});

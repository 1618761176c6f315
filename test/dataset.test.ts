// The dataset generator (tools/dataset/generate.ts): same seed → identical bytes, for one
// worker or two; frame 0 of each episode at its spawn pose with a zero action; walking
// forward is conditioned with 'w'; the file sizes agree with meta.json.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PROMPTS, defaultLevel, defaultWorldActionSpace } from '../gameserver/src/index.js';
import { generateDataset, type DatasetMeta } from '../tools/dataset/generate.js';

const FILES = ['frames.u8', 'actions.f32', 'poses.f32', 'prompts.u8', 'meta.json'];
const SIZE = 32;
const EPISODES = 2;
const FRAMES = 10;

describe('dataset generator', () => {
  let root: string;
  let meta: DatasetMeta;
  const dir = (name: string): string => join(root, name);
  const f32 = (path: string): Float32Array => {
    const b = readFileSync(path);
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'worldcast-dataset-'));
    meta = await generateDataset({ out: dir('a'), episodes: EPISODES, frames: FRAMES, seed: 3, size: SIZE, progress: false });
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('gives identical bytes for the same seed, with one worker or two', async () => {
    await generateDataset({ out: dir('b'), episodes: EPISODES, frames: FRAMES, seed: 3, size: SIZE, progress: false });
    await generateDataset({ out: dir('c'), episodes: EPISODES, frames: FRAMES, seed: 3, size: SIZE, workers: 2, progress: false });
    for (const f of FILES) {
      const a = readFileSync(join(dir('a'), f));
      expect(readFileSync(join(dir('b'), f)).equals(a), `${f} (rerun)`).toBe(true);
      expect(readFileSync(join(dir('c'), f)).equals(a), `${f} (2 workers)`).toBe(true);
    }
    await generateDataset({ out: dir('d'), episodes: EPISODES, frames: FRAMES, seed: 4, size: SIZE, progress: false });
    expect(readFileSync(join(dir('d'), 'frames.u8')).equals(readFileSync(join(dir('a'), 'frames.u8')))).toBe(false);
  });

  it('writes arrays whose sizes agree with meta.json', () => {
    const m = JSON.parse(readFileSync(join(dir('a'), 'meta.json'), 'utf8')) as DatasetMeta;
    expect(m).toEqual(JSON.parse(JSON.stringify(meta)));
    const n = EPISODES * FRAMES;
    expect(m).toMatchObject({ version: 1, width: SIZE, height: SIZE, fps: 15, tickRate: 30, eyeHeight: 1.6, level: defaultLevel.name, seed: 3, totalFrames: n });
    expect(m.prompts).toEqual([...PROMPTS]);
    expect(m.actionSpace).toEqual(defaultWorldActionSpace);
    expect(m.episodes.map((e) => [e.id, e.start, e.frames])).toEqual([
      [0, 0, FRAMES],
      [1, FRAMES, FRAMES],
    ]);
    const size = (f: string): number => statSync(join(dir('a'), f)).size;
    expect(size('frames.u8')).toBe(n * SIZE * SIZE * 3);
    expect(size('actions.f32')).toBe(n * 7 * 4);
    expect(size('poses.f32')).toBe(n * 5 * 4);
    expect(size('prompts.u8')).toBe(n);
    const prompts = readFileSync(join(dir('a'), 'prompts.u8'));
    for (const e of m.episodes) {
      const ps = [...prompts.subarray(e.start, e.start + e.frames)];
      expect(ps.every((p) => p < PROMPTS.length)).toBe(true);
      expect(new Set(ps).size).toBe(e.promptSwitchAt === null ? 1 : 2);
    }
  });

  it('starts each episode at its spawn pose with a zero action', () => {
    const actions = f32(join(dir('a'), 'actions.f32'));
    const poses = f32(join(dir('a'), 'poses.f32'));
    for (const e of meta.episodes) {
      expect([...actions.subarray(e.start * 7, e.start * 7 + 7)]).toEqual([0, 0, 0, 0, 0, 0, 0]);
      const spawn = defaultLevel.spawns[e.spawn.index]!;
      expect([...poses.subarray(e.start * 5, e.start * 5 + 5)]).toEqual([...spawn.position, spawn.yaw ?? 0, 0]);
    }
  });

  it("conditions walking forward with 'w' (and only then)", async () => {
    // A longer run with every policy, at a tiny frame size.
    const m = await generateDataset({ out: dir('e'), episodes: 6, frames: 40, seed: 11, size: 8, progress: false });
    expect(new Set(m.episodes.map((e) => e.policy)).size).toBeGreaterThan(1);
    const actions = f32(join(dir('e'), 'actions.f32'));
    const poses = f32(join(dir('e'), 'poses.f32'));
    const thr = 0.3 * 4; // keyThreshold × walkSpeed (m/s)
    let walking = 0;
    for (const e of m.episodes) {
      for (let f = e.start + 1; f < e.start + e.frames; f++) {
        // Forward speed over the frame, in the facing direction at its start.
        const yaw = poses[(f - 1) * 5 + 3]!;
        const dx = poses[f * 5]! - poses[(f - 1) * 5]!;
        const dz = poses[f * 5 + 2]! - poses[(f - 1) * 5 + 2]!;
        const fwd = (dx * -Math.sin(yaw) + dz * -Math.cos(yaw)) * 15;
        const w = actions[f * 7]!;
        if (fwd > thr + 0.5) {
          walking++;
          expect(w, `frame ${f}`).toBe(1);
        }
        if (fwd < thr - 0.5) expect(w, `frame ${f}`).toBe(0);
      }
    }
    expect(walking).toBeGreaterThan(10);
  });
});

describe('dataset with other characters (--characters)', () => {
  const root = mkdtempSync(join(tmpdir(), 'wc-dataset-chars-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const opts = { episodes: 8, frames: 30, seed: 21, size: 32, progress: false };

  it('adds 0-3 walkers per episode, deterministic from the seed (workers included), in the frames and the maps', async () => {
    const { generateEpisode, otherShapes, planOthers, MAX_OTHERS, OTHER_FLOATS } = await import('../tools/dataset/generate.js');
    const { renderGeometry, eyeFromCharacter } = await import('../world/src/index.js');
    const meta = await generateDataset({ ...opts, out: join(root, 'a'), characters: true });
    await generateDataset({ ...opts, out: join(root, 'b'), characters: true, workers: 2 });
    const plain = await generateDataset({ ...opts, out: join(root, 'plain') });
    expect(meta.characters).toBe(true);
    for (const f of ['frames.u8', 'others.f32', 'geometry.f32']) expect(readFileSync(join(root, 'a', f)).equals(readFileSync(join(root, 'b', f))), f).toBe(true);
    const counts = meta.episodes.map((e) => e.others!.length);
    expect(Math.max(...counts)).toBeLessThanOrEqual(MAX_OTHERS);
    expect(new Set(counts).size).toBeGreaterThan(1); // not all the same
    expect(new Set(meta.episodes.flatMap((e) => e.others!.map((o) => o.kind))).size).toBeGreaterThanOrEqual(3);
    // the rest of the plan is the plain dataset's: same spawns, policies, prompt switches
    expect(meta.episodes.map((e) => [e.spawn.index, e.policy, e.promptSwitchAt])).toEqual(plain.episodes.map((e) => [e.spawn.index, e.policy, e.promptSwitchAt]));
    // an episode without others is the plain one, byte for byte
    const alone = meta.episodes.find((e) => e.others!.length === 0);
    if (alone) {
      const fb = 32 * 32 * 3;
      const a = readFileSync(join(root, 'a', 'frames.u8')).subarray(alone.start * fb, (alone.start + alone.frames) * fb);
      const p = readFileSync(join(root, 'plain', 'frames.u8')).subarray(alone.start * fb, (alone.start + alone.frames) * fb);
      expect(a.equals(p)).toBe(true);
    }
    // the geometry maps draw them where others.f32 says they were
    const ob = readFileSync(join(root, 'a', 'others.f32'));
    const others = new Float32Array(ob.buffer, ob.byteOffset, ob.byteLength / 4);
    const gb = readFileSync(join(root, 'a', 'geometry.f32'));
    const geo = new Float32Array(gb.buffer, gb.byteOffset, gb.byteLength / 4);
    const pb = readFileSync(join(root, 'a', 'poses.f32'));
    const poses = new Float32Array(pb.buffer, pb.byteOffset, pb.byteLength / 4);
    const g = meta.geometry!;
    const per = g.channels * g.height * g.width;
    const ep = meta.episodes.find((e) => e.others!.length > 0)!;
    const fr = ep.start + 5;
    const rows = others.subarray(fr * MAX_OTHERS * OTHER_FLOATS, (fr + 1) * MAX_OTHERS * OTHER_FLOATS);
    const shapes = otherShapes(rows, ep.others!.map((o) => o.color));
    expect(shapes).toHaveLength(ep.others!.length);
    const cam = eyeFromCharacter({ x: poses[fr * 5]!, y: poses[fr * 5 + 1]!, z: poses[fr * 5 + 2]!, yaw: poses[fr * 5 + 3]!, pitch: poses[fr * 5 + 4]! });
    expect([...geo.subarray(fr * per, (fr + 1) * per)]).toEqual([...renderGeometry(defaultLevel, cam, g.width, g.height, { samples: g.samples, near: g.near, characters: shapes })]);
    // planOthers is what the episode used
    expect(planOthers(defaultLevel.spawns[ep.spawn.index]!, 21, ep.id)).toEqual(ep.others);
    // they are seen: at the spawn (frame 0, the others 1.5-11 m ahead of the view) the frames of
    // episodes with others differ from the plain dataset's
    const fb = 32 * 32 * 3;
    const fa = readFileSync(join(root, 'a', 'frames.u8'));
    const fp = readFileSync(join(root, 'plain', 'frames.u8'));
    const busy = meta.episodes.filter((e) => e.others!.length > 0);
    const seen = busy.filter((e) => !fa.subarray(e.start * fb, (e.start + 1) * fb).equals(fp.subarray(e.start * fb, (e.start + 1) * fb)));
    expect(seen.length).toBeGreaterThan(busy.length / 2);
    const one = await generateEpisode(defaultLevel, 21, ep.id, 30, 32, true);
    expect(one.others!.length).toBe(30 * MAX_OTHERS * OTHER_FLOATS);
    expect(Buffer.from(one.frames).equals(fa.subarray(ep.start * fb, (ep.start + 30) * fb))).toBe(true);
  });
});

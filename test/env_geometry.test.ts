// An agent environment over a model whose video decoder takes the view's geometry
// (test/helpers/geometry_model.ts): the decoded opening gets the spawn view's map for each of
// its frames, and every frame a step decodes gets the map of that frame's pose — in 'block'
// granularity and in 'frame' granularity (whose speculative forks hold the last frame's map).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadModel, type ActionInput, type BatchItem, type Model, type Session } from '../sdk/src/index.js';
import { WorldEnv } from '../env/src/index.js';
import { defaultLevel, spawnPose } from '../world/src/levels/index.js';
import { eyeFromCharacter, renderGeometry } from '../world/src/render.js';
import type { Pose } from '../sdk/src/actions.js';
import { GEO_MAP, writeGeometryModel } from './helpers/geometry_model.js';

const mapOf = (pose: Pose): Float32Array => renderGeometry(defaultLevel, eyeFromCharacter(pose), GEO_MAP.width, GEO_MAP.height, { samples: GEO_MAP.samples, near: GEO_MAP.near });
const n = GEO_MAP.channels * GEO_MAP.height * GEO_MAP.width;

describe('agent environments with a geometry-conditioned decoder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wc-env-geo-'));
  let model: Model;
  /** What the env handed the SDK: each commit's decoder maps, each stepped block's per-frame maps. */
  const commits: (Float32Array | undefined)[] = [];
  const steps: (Float32Array | undefined)[][] = [];

  beforeAll(async () => {
    model = await loadModel(writeGeometryModel(join(dir, 'model')), { threads: 1, decoderPrecision: 'f32' });
    const stepMany = model.stepMany.bind(model);
    model.stepMany = (items: readonly BatchItem[]) => {
      for (const it of items) steps.push((it.actions as ActionInput[]).map((a) => a.frameGeometry));
      return stepMany(items);
    };
    const createSession = model.createSession.bind(model);
    model.createSession = (...a: Parameters<Model['createSession']>): Session => {
      const s = createSession(...a);
      const commit = s.commit.bind(s);
      s.commit = (x0, actions, opts) => {
        commits.push(opts?.frameGeometry);
        return commit(x0, actions, opts);
      };
      return s;
    };
  });
  afterAll(() => {
    model?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('decodes the opening and each block with the maps of their frames', async () => {
    expect(model.actionSpace?.frameGeometry).toEqual(GEO_MAP);
    const env = await WorldEnv.create(model, { spawn: 0, prompt: 'day' });
    commits.length = steps.length = 0;
    const [obs] = await env.reset({ seed: 3 });
    expect((obs as Uint8Array).length).toBe(48 * 64 * 3);
    // the opening 'day/0' (3 frames), committed and decoded: the spawn's view for each frame
    expect(commits).toHaveLength(1);
    const spawnMap = mapOf(spawnPose(defaultLevel.spawns[0]!));
    expect(commits[0]!.length).toBe(3 * n);
    for (let f = 0; f < 3; f++) expect(commits[0]!.subarray(f * n, (f + 1) * n)).toEqual(spawnMap);
    const w = { keys: Int8Array.from([1, 0, 0, 0, 0]), mouse: Float32Array.from([0.6, 0]) };
    for (let k = 0; k < 3; k++) {
      const [o, , , , info] = await env.step(w);
      expect((o as Uint8Array).length).toBe(48 * 64 * 3);
      const maps = steps.at(-1)!;
      expect(maps).toHaveLength(3);
      expect(maps.every((m) => m?.length === n)).toBe(true);
      // the block's last frame: the pose after the step (walking and turning: the frames differ)
      expect(maps[2]).toEqual(mapOf(info.pose));
      expect(maps[0]).not.toEqual(maps[2]);
    }
    await env.close();
  }, 60000);

  it("'frame' granularity: each step's frame decoded with its own map, the frames not yet run holding the last", async () => {
    const env = await WorldEnv.create(model, { spawn: 1, granularity: 'frame' }); // spawn 1: no opening, a block generated standing
    steps.length = 0;
    await env.reset({ seed: 4 });
    expect(steps).toHaveLength(1); // the standing block
    expect(steps[0]!.every((m) => m?.length === n)).toBe(true);
    const w = { keys: Int8Array.from([1, 0, 0, 0, 0]), mouse: Float32Array.from([-0.5, 0]) };
    const seen: Float32Array[] = [];
    for (let j = 0; j < 3; j++) {
      const [, , , , info] = await env.step(w);
      seen.push(mapOf(info.pose));
      const maps = steps.at(-1)!;
      expect(maps).toHaveLength(3);
      for (let f = 0; f < 3; f++) expect(maps[f]).toEqual(seen[Math.min(f, j)]);
    }
    await env.close();
  }, 60000);
});

// The render CLI drives the default world as the game server does: the model's own decoder
// (no "names no decoder"), its opening, and a character moved through the level by the action
// script (pose and geometry map per frame), so the frames match the truth renderer at the
// character's poses; and world/'s scripted driver behind it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseRenderArgs, render, UsageError, type RenderResult } from '../examples/render/cli.js';
import { ArgumentError, type ActionSpace, type Pose } from '../sdk/src/index.js';
import { psnr } from '../tools/eval/metrics.js';
import { checkHeldInput, WorldDriver } from '../world/src/driver.js';
import { defaultLevel } from '../world/src/levels/index.js';
import { eyeFromCharacter, renderView } from '../world/src/render.js';
import { root } from './helpers/fixtures.js';
import { writeGeometryModel } from './helpers/geometry_model.js';

const dir = mkdtempSync(join(tmpdir(), 'wc-cli-world-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Walk forward, turn right while walking, walk on, step right: 4 blocks = 0.8 s of world time. */
const WALK = [{ keys: ['w'] }, { keys: ['w'], mouse: { dx: 0.3 } }, { keys: ['w'] }, { keys: ['d'] }];
const script = join(dir, 'walk.json');
writeFileSync(script, JSON.stringify(WALK));

const latent = { height: 16, width: 16 };
/** The default world model's action space: keys, mouse, pose and geometry map. */
const space = (JSON.parse(readFileSync(join(root, 'models', 'default', 'config.json'), 'utf8')) as { action: ActionSpace }).action;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The poses of the walk from `spawn`, one per latent frame, by world/'s driver alone. */
async function walkPoses(spawn: number, blocks: number): Promise<Pose[]> {
  const d = await WorldDriver.create(space, 15, 3, { spawn, latent });
  try {
    const out: Pose[] = [];
    for (let b = 0; b < blocks; b++) out.push(...d.block(WALK[Math.min(b, WALK.length - 1)]!).poses);
    return out;
  } finally {
    d.free();
  }
}

/** Mean PSNR of the frames against the truth renderer's views from `poses` (by day). */
function truthPsnr(r: RenderResult, poses: readonly Pose[]): number {
  return mean(r.images.map((f, i) => psnr(f, renderView(defaultLevel, eyeFromCharacter(poses[i]!), 'day', r.width, r.height))));
}

describe('worldcast render on the default world', () => {
  let r: RenderResult;
  beforeAll(async () => {
    // no --decoder: the model's own (config.json "decoder": "decoder")
    r = await render({ ...parseRenderArgs(['render', '--model', 'models/default', '--actions', script, '--blocks', '4', '--threads', '2', '--out', join(dir, 'frames') + '/']), progress: false });
  }, 300_000);

  it('walks the character through the level from the spawn, starting from the opening', () => {
    expect([r.frames, r.width, r.height]).toEqual([12, 128, 128]);
    expect(readdirSync(join(dir, 'frames'))).toHaveLength(12);
    expect([r.prompt, r.spawn, r.opening]).toEqual(['day', 0, 'day/0']);
    expect(r.poses).toHaveLength(12);
    const p = r.poses!;
    // 3 blocks of 'w' at 4 m/s for 0.2 s each (toward -Z, then turning right), then a step right
    expect(p[8]!.z).toBeLessThan(-2);
    expect(p[11]!.yaw).toBeLessThan(-0.3); // dx 0.3 for 0.2 s: 0.3 × 2π × 0.2 ≈ 0.38 rad to the right
  });

  it('shows the world at the character poses: PSNR against the truth there well above the truth seen from other spawns', async () => {
    // Measured (4 blocks, seeds 0/1/2/5, spawns 0/3/6): 24.7–26.3 dB against the truth at the
    // same poses; 16.9–21.8 dB against the truth of the same walk from each other spawn (the
    // best of them 2.9–4.5 dB below); 16.1 dB for the old CLI path (no opening, pose or map).
    const same = truthPsnr(r, r.poses!);
    expect(same).toBeGreaterThan(23);
    const others: number[] = [];
    for (let sp = 1; sp < defaultLevel.spawns.length; sp++) others.push(truthPsnr(r, await walkPoses(sp, 4)));
    expect(same - Math.max(...others)).toBeGreaterThan(1.5);
    // and the driver alone gives the poses render reported
    expect(await walkPoses(0, 4)).toEqual(r.poses);
  });

  it('the command line renders models/default without --decoder (the old "names no decoder" failure is gone)', () => {
    const out = join(dir, 'cli') + '/';
    const p = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'examples', 'render', 'cli.ts'), 'render', '--model', 'models/default', '--actions', script, '--blocks', '1', '--threads', '2', '--out', out], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(p.stderr).not.toMatch(/names no decoder/);
    expect(p.status, p.stderr).toBe(0);
    expect(p.stderr).toMatch(/spawn 0, prompt day, opening day\/0/);
    expect(readdirSync(out)).toHaveLength(3);
  });

  it('says what is wrong', async () => {
    const args = (...a: string[]) => parseRenderArgs(['render', '--model', 'models/default', '--out', join(dir, 'x.webp'), ...a]);
    await expect(render(args('--decoder', 'none'))).rejects.toThrow(/render writes pixels: --decoder none/);
    await expect(render(args('--spawn', '8'))).rejects.toThrow(/spawn must be an integer in \[0, 7\]/);
    writeFileSync(join(dir, 'bad.json'), JSON.stringify([{ keys: ['q'] }]));
    await expect(render(args('--actions', join(dir, 'bad.json')))).rejects.toThrow(/entry 0\.keys: "q" is not a key of this model/);
    writeFileSync(join(dir, 'bad.json'), JSON.stringify([{ keys: [] }, { mouse: { dx: 3 } }]));
    await expect(render(args('--actions', join(dir, 'bad.json')))).rejects.toThrow(/entry 1\.mouse\.dx must be a number in \[-1, 1\]/);
    writeFileSync(join(dir, 'bad.json'), '{"keys": ["w"]}');
    await expect(render(args('--actions', join(dir, 'bad.json')))).rejects.toThrow(/must hold a JSON array/);
    await expect(render(args('--level', join(dir, 'bad.json')))).rejects.toThrow();
    // a model without pose or geometry has no level to walk
    await expect(render(parseRenderArgs(['render', '--model', 'test/fixtures/tiny', '--decoder', 'test/fixtures/taehv_tiny', '--spawn', '1']))).rejects.toThrow(/takes no pose or geometry map/);
    expect(() => parseRenderArgs(['render', '--model', 'm', '--spawn', '-1'])).toThrow(UsageError);
    expect(() => parseRenderArgs(['render', '--model', 'm', '--spawn', ''])).toThrow(/--spawn must be an integer >= 0/);
    expect(() => parseRenderArgs(['render'])).toThrow(/--model DIR is required/);
  });
});

describe('worldcast render on a model whose decoder takes the geometry', () => {
  it('draws the decoder map of every frame from the character\'s pose, from its opening on', async () => {
    const model = writeGeometryModel(join(dir, 'geo-model'));
    const r = await render({ model, actions: script, blocks: 3, seed: 1, fps: 15, out: join(dir, 'geo.webp'), progress: false });
    // 3 blocks of 3 latent frames, one 48×64 frame each (no time upscaling, nothing trimmed)
    expect([r.frames, r.width, r.height]).toEqual([9, 64, 48]);
    expect(r.opening).toBe('day/0');
    expect(r.poses).toHaveLength(9);
    // walking forward from spawn 0
    expect(r.poses![8]!.z).not.toBeCloseTo(r.poses![0]!.z, 2);
  }, 60000);
});

describe('WorldDriver (world/src/driver.ts)', () => {
  it('holds keys and turns at the mouse fraction of the largest turn rate, conditioning on the motion physics allowed', async () => {
    const d = await WorldDriver.create(space, 15, 3, { latent });
    try {
      const b = d.block({ keys: ['w'], mouse: { dx: 0.5 } });
      expect(b.inputs).toHaveLength(3);
      for (const a of b.inputs) {
        expect(a.keys).toEqual(['w']);
        expect((a.mouse as Record<string, number>).dx).toBeCloseTo(0.5, 6);
      }
      expect(b.poses[2]!.yaw).toBeCloseTo(-0.5 * 2 * Math.PI * 0.2, 6);
      expect(b.inputs[2]!.pose).toEqual(b.poses[2]);
      expect(b.inputs[2]!.geometry).toHaveLength(8 * 16 * 16);
      expect(b.encoded).toBeInstanceOf(Float32Array);
      // standing still: nothing held, nothing conditioned
      const still = d.block({});
      expect(still.inputs.every((a) => (a.keys as string[]).length === 0 && (a.mouse as Record<string, number>).dx === 0)).toBe(true);
      expect(still.poses[2]!.x).toBeCloseTo(b.poses[2]!.x, 6);
      // walking into a wall conditions as standing still
      let last = d.block({ keys: ['w'] });
      for (let i = 0; i < 100 && (last.inputs[2]!.keys as string[]).includes('w'); i++) last = d.block({ keys: ['w'] });
      expect(last.inputs[2]!.keys).toEqual([]);
      expect(Math.hypot(last.poses[2]!.x, last.poses[2]!.z)).toBeGreaterThan(3);
    } finally {
      d.free();
    }
  });

  it('refuses bad held inputs and spawns with typed errors', async () => {
    expect(() => checkHeldInput(null, space, 'e')).toThrow(ArgumentError);
    expect(() => checkHeldInput({ keys: 'w' }, space, 'e')).toThrow(/e\.keys must be an array/);
    expect(() => checkHeldInput({ mouse: { dz: 0 } }, space, 'e')).toThrow(/"dz" is not a mouse axis/);
    expect(() => checkHeldInput({ mouse: { dx: Number.NaN } }, space, 'e')).toThrow(/e\.mouse\.dx must be a number/);
    expect(() => checkHeldInput({ keys: ['w'], jump: true }, space, 'e')).toThrow(/unknown field "jump"/);
    expect(checkHeldInput({ keys: ['w', 'space'], mouse: { dy: -0.2 } }, space, 'e')).toEqual({ keys: ['w', 'space'], mouse: { dy: -0.2 } });
    await expect(WorldDriver.create(space, 15, 3, { latent, spawn: 1.5 })).rejects.toThrow(ArgumentError);
    await expect(WorldDriver.create(space, 15, 3, { latent, tickRate: 20 })).rejects.toThrow(/multiple of the model's 15 latent frames\/s/);
  });
});

// Geometry-taking models (config `action.geometry`): the game server's renderGeometry map
// (albedo, coverage, nearness, normal per pixel) says what is in view; the engine runs a
// tiny geometry model like the PyTorch reference (goldens from
// tools/reference/make_geometry_fixtures.py), the map travelling at the end of each
// frame's action row; bad maps are clear errors.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { defaultLevel, eyeFromCharacter, GEOMETRY_CHANNELS, motionToConditioning, poseInputs, renderGeometry, type Camera, type TickMotion } from '../gameserver/src/index.js';
import { ArgumentError, actionSize, encodeActions, encodeGeometry, geometrySize, loadModel, readSafetensors, type ActionInput, type Model } from '../sdk/src/index.js';
import { fixtures, relErr, tensor, tinyDir } from './helpers/fixtures.js';

const rollout = readSafetensors(join(fixtures, 'golden', 'geometry_rollout.safetensors')).tensors;

describe('renderGeometry', () => {
  const at = (map: Float32Array, ch: number, w: number, h: number, x: number, y: number): number => map[(ch * h + y) * w + x]!;

  it('sees only sky looking straight up and only floor looking straight down', () => {
    const up = renderGeometry(defaultLevel, { x: 0, y: 1.6, z: 0, yaw: 0, pitch: Math.PI / 2 - 1e-3 }, 4, 4, { samples: 2 });
    expect(up.length).toBe(GEOMETRY_CHANNELS * 16);
    expect(Math.max(...up.map(Math.abs))).toBe(0);
    // one ray straight down from the eye (1.6 m up): floor, normal +y, nearness exp(-1.6 / near)
    const down = renderGeometry(defaultLevel, { x: 0.5, y: 1.6, z: 0.5, yaw: 0, pitch: -Math.PI / 2 }, 1, 1, { samples: 1, near: 4 });
    expect(down[3]).toBe(1); // coverage
    expect(down[4]).toBeCloseTo(Math.exp(-1.6 / 4), 6);
    expect([down[5], down[6], down[7]]).toEqual([0, 1, 0]);
    expect(down[0]).toBeCloseTo(defaultLevel.floor!.colors![0][0], 6); // tile (0, 0) has the first colour
  });

  it("shows a wall's colour and normal where the wall is, and the sky above it", () => {
    // 5 m from the north wall (inner face at z = -12), looking at it (yaw 0 faces -Z), level
    const cam: Camera = eyeFromCharacter({ x: 0, y: 0, z: -7, yaw: 0, pitch: 0 });
    const W = 16;
    const H = 16;
    const map = renderGeometry(defaultLevel, cam, W, H);
    const north = defaultLevel.boxes.find((b) => b.name === 'wall-north')!.color!;
    // the centre of the view: the wall (3 m high, the eye at 1.6 m) face on, normal +z
    for (const [x, y] of [[7, 7], [8, 8], [3, 9]] as const) {
      expect(at(map, 3, W, H, x, y)).toBe(1);
      for (let c = 0; c < 3; c++) expect(at(map, c, W, H, x, y)).toBeCloseTo(north[c]!, 6);
      expect(at(map, 7, W, H, x, y)).toBeCloseTo(1, 6);
      expect(at(map, 4, W, H, x, y)).toBeGreaterThan(Math.exp(-6 / 8));
      expect(at(map, 4, W, H, x, y)).toBeLessThan(Math.exp(-5 / 8) + 1e-6);
    }
    // the top row: sky above the wall's top (1.4 m above the eye, 5 m away: 16° up; the view spans 37.5°)
    expect(at(map, 3, W, H, 8, 0)).toBe(0);
    // the bottom row: floor, normal +y
    expect(at(map, 6, W, H, 8, 15)).toBeCloseTo(1, 6);
  });

  it('is deterministic and checks its arguments', () => {
    const cam = eyeFromCharacter({ x: 3, y: 0, z: 2, yaw: 0.7, pitch: 0.1 });
    const a = renderGeometry(defaultLevel, cam, 16, 16);
    const b = renderGeometry(defaultLevel, cam, 16, 16, {}, new Float32Array(GEOMETRY_CHANNELS * 256));
    expect(b).toEqual(a);
    expect(() => renderGeometry(defaultLevel, cam, 0, 16)).toThrow(/positive integers/);
    expect(() => renderGeometry(defaultLevel, cam, 16, 16, { samples: 0 })).toThrow(/samples/);
    expect(() => renderGeometry(defaultLevel, cam, 16, 16, { near: -1 })).toThrow(/near/);
    expect(() => renderGeometry(defaultLevel, cam, 16, 16, {}, new Float32Array(10))).toThrow(/needed/);
  });
});

describe('a model that takes the geometry (tiny_geometry)', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(join(fixtures, 'tiny_geometry'), { threads: 2, kv: { dtype: 'f32' } });
  });
  afterAll(() => model.close());

  const F = 3;
  const latent = { height: 6, width: 8 };
  const inputs = (b: number): ActionInput[] => {
    const space = model.config.action!;
    const keys = tensor(rollout, `block.${b}.keys`);
    const mouse = tensor(rollout, `block.${b}.mouse`);
    const geo = tensor(rollout, `block.${b}.geometry`);
    const per = 8 * latent.height * latent.width;
    return Array.from({ length: F }, (_, f) => ({
      keys: space.keys.filter((_, k) => keys[f * space.keys.length + k] === 1),
      mouse: Object.fromEntries(space.mouse.map((a, j) => [a.name, mouse[f * space.mouse.length + j]!])),
      ...(b === 1 ? {} : { geometry: geo.slice(f * per, (f + 1) * per) }),
    }));
  };

  /**
   * The reference fixture packs each frame's row as [action vector ‖ map]; the engine takes
   * the rows (vector only) and the block's maps [channels, F, H, W] apart.
   */
  const split = (packed: Float32Array): { actions: Float32Array; geometry: Float32Array } => {
    const V = 7, plane = latent.height * latent.width, C = 8, row = V + C * plane;
    const actions = new Float32Array(F * V);
    const geometry = new Float32Array(C * F * plane);
    for (let f = 0; f < F; f++) {
      actions.set(packed.subarray(f * row, f * row + V), f * V);
      for (let c = 0; c < C; c++) geometry.set(packed.subarray(f * row + V + c * plane, f * row + V + (c + 1) * plane), (c * F + f) * plane);
    }
    return { actions, geometry };
  };

  it('declares the geometry as an input of its own, not part of the action rows', () => {
    const space = model.config.action!;
    expect(space.geometry).toEqual({ channels: 8, samples: 2, near: 5 });
    expect(model.config.latent_channels).toBe(4);
    expect(actionSize(space)).toBe(7);
    expect(geometrySize(space, latent)).toBe(8 * 48);
    expect(model.inputs.actions?.size).toBe(7);
    expect(model.inputs.actions?.geometry).toEqual(space.geometry);
    const s = model.createSession({ latentHeight: 4, latentWidth: 4 });
    expect(s.layout.actionSize).toBe(7);
    expect(s.layout.geometrySize).toBe(8 * F * 16);
    void s.close();
  });

  it('encodes the rows and the maps as the reference did, and runs its rollout', async () => {
    const s = model.createSession();
    await s.setPrompt(tensor(rollout, 'prompt'));
    for (let b = 0; b < 3; b++) {
      const ref = split(tensor(rollout, `block.${b}.actions`));
      expect(relErr(encodeActions(inputs(b), model.config.action!, F), ref.actions), `block ${b} actions`).toBeLessThan(1e-6);
      const maps = encodeGeometry(inputs(b), model.config.action!, F, latent);
      if (b === 1) expect(maps).toBeUndefined(); // the block without the map
      else expect(relErr(maps!, ref.geometry), `block ${b} maps`).toBeLessThan(1e-6);
      const noise = Array.from({ length: 4 }, (_, i) => tensor(rollout, `block.${b}.noise.${i}`));
      const out = await s.step({ actions: inputs(b), noise });
      expect(relErr(out.latents, tensor(rollout, `block.${b}.x0`)), `block ${b}`).toBeLessThan(1e-5);
    }
    await s.close();
  });

  it('runs the same with the commit folded into the next block', async () => {
    const s = model.createSession({ foldCommit: true });
    await s.setPrompt(tensor(rollout, 'prompt'));
    for (let b = 0; b < 3; b++) {
      const noise = Array.from({ length: 4 }, (_, i) => tensor(rollout, `block.${b}.noise.${i}`));
      const out = await s.step({ ...split(tensor(rollout, `block.${b}.actions`)), noise }); // pre-encoded rows + maps
      expect(relErr(out.latents, tensor(rollout, `block.${b}.x0`)), `block ${b}`).toBeLessThan(1e-5);
    }
    await s.close();
  });

  it('the map changes what it draws', async () => {
    const run = async (withMap: boolean): Promise<Float32Array> => {
      const s = model.createSession();
      await s.setPrompt(tensor(rollout, 'prompt'));
      const acts = inputs(0).map((a) => (withMap ? a : { keys: a.keys, mouse: a.mouse }));
      const out = await s.step({ actions: acts, noise: Array.from({ length: 4 }, (_, i) => tensor(rollout, `block.0.noise.${i}`)) });
      await s.close();
      return out.latents;
    };
    expect(relErr(await run(false), await run(true))).toBeGreaterThan(1e-3);
  });

  it('rejects bad maps with errors naming them, and a map for a model without one', async () => {
    const space = model.config.action!;
    expect(() => encodeGeometry({ geometry: new Float32Array(10) }, space, F, latent)).toThrow(/geometry must be a Float32Array of 8x6x8 = 384 floats/);
    expect(() => encodeGeometry({ geometry: [1, 2] as unknown as Float32Array }, space, F, latent)).toThrow(ArgumentError);
    const tiny = await loadModel(tinyDir, { threads: 1 });
    expect(() => encodeActions({ geometry: new Float32Array(4) }, tiny.config.action!, F)).toThrow(/takes no geometry/);
    const ts = tiny.createSession();
    await expect(ts.step({ geometry: new Float32Array(4) })).rejects.toThrow(/takes no geometry map/);
    await ts.close();
    tiny.close();
    const s = model.createSession();
    await s.setPrompt(tensor(rollout, 'prompt'));
    // NaN in a map: checked once, by the engine; the session is left as it was
    const nan = new Float32Array(384);
    nan[77] = Number.NaN;
    await expect(s.step({ actions: { geometry: nan } })).rejects.toThrow(/geometry map contains NaN/);
    // maps of the wrong size, given twice, rows of the wrong length: errors, nothing changed
    await expect(s.step({ geometry: new Float32Array(5) })).rejects.toThrow(/geometry/);
    await expect(s.step({ actions: inputs(0), geometry: new Float32Array(8 * F * 48) })).rejects.toThrow(/geometry given twice/);
    await expect(s.step({ actions: new Float32Array(F * 7 + 1) })).rejects.toThrow(/actions/);
    const noise = Array.from({ length: 4 }, (_, i) => tensor(rollout, `block.0.noise.${i}`));
    const out = await s.step({ actions: inputs(0), noise });
    expect(relErr(out.latents, tensor(rollout, 'block.0.x0'))).toBeLessThan(1e-5);
    await s.close();
  });
});

describe('the game server conditions a geometry-taking model on the view from the character', () => {
  const geometry = { channels: GEOMETRY_CHANNELS, samples: 2, near: 8 };
  const space = { mode: 'additive', keys: ['w', 'a', 's', 'd', 'space'], mouse: [{ name: 'dx', min: -1, max: 1 }, { name: 'dy', min: -1, max: 1 }], geometry };
  const latent = { height: 4, width: 6 };
  const params = {
    walkSpeed: 4,
    maxTurnRate: 3,
    keyThreshold: 0.3,
    map: { forward: 'w', back: 's', left: 'a', right: 'd', jump: 'space', yaw: 'dx', pitch: 'dy' },
    view: { level: defaultLevel, latent },
  };
  const tick = (x: number, yaw: number): TickMotion => ({ dt: 1 / 30, forward: 0.1, right: 0, up: 0, yaw: 0, pitch: 0, jumped: false, blocked: false, pose: { x, y: 0, z: -x, yaw, pitch: 0 } });

  it("each frame gets the map seen from the pose after its group's last tick; a frame without ticks the map of the pose given", () => {
    const ticks = [tick(1, 0.1), tick(2, 0.2), tick(3, 0.3), tick(4, 2.4)];
    const plane = latent.height * latent.width;
    const c = motionToConditioning(ticks, 2, space, params);
    expect(c.encoded!.length).toBe(2 * 7); // the rows are the action vectors only
    expect(c.geometry!.length).toBe(GEOMETRY_CHANNELS * 2 * plane); // [channels, F, H, W]
    const frameMap = (g: Float32Array, frames: number, f: number): number[] =>
      Array.from({ length: GEOMETRY_CHANNELS }, (_, ch) => [...g.subarray((ch * frames + f) * plane, (ch * frames + f + 1) * plane)]).flat();
    for (const [f, t] of [[0, 1], [1, 3]] as const) {
      const want = renderGeometry(defaultLevel, eyeFromCharacter(ticks[t]!.pose), latent.width, latent.height, geometry);
      expect(frameMap(c.geometry!, 2, f)).toEqual([...want]);
    }
    expect(frameMap(c.geometry!, 2, 0)).not.toEqual(frameMap(c.geometry!, 2, 1)); // two different views
    const rest = { x: -3, y: 0, z: 5, yaw: 2, pitch: 0.1 };
    const idle = motionToConditioning([], 1, space, params, rest);
    expect([...idle.geometry!]).toEqual([...renderGeometry(defaultLevel, eyeFromCharacter(rest), 6, 4, geometry)]);
    expect(poseInputs(rest, space, params).pose).toBeUndefined(); // the space takes no pose
    // without a view there are no maps (the engine takes zero)
    expect(motionToConditioning(ticks, 2, space, { ...params, view: undefined }).geometry).toBeUndefined();
  });
});

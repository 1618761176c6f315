// Pose-taking models (config `action.pose`): the SDK's pose features equal the reference's
// (tools/reference/wan_causal.py pose_features), the engine runs a tiny pose model like the
// PyTorch reference (goldens from tools/reference/make_pose_fixtures.py), the game server's
// conditioning and the openings carry the character's pose.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { motionToConditioning, type TickMotion } from '../gameserver/src/index.js';
import { ArgumentError, actionSize, encodeActions, loadModel, poseFeatures, poseWidth, readSafetensors, type ActionInput, type Model, type Pose, type PoseSpec } from '../sdk/src/index.js';
import { fixtures, relErr, tensor, tinyDir } from './helpers/fixtures.js';

const golden = JSON.parse(readFileSync(join(fixtures, 'golden', 'pose.json'), 'utf8')) as { pose: PoseSpec; poses: number[][]; features: number[][] };
const rollout = readSafetensors(join(fixtures, 'golden', 'pose_rollout.safetensors')).tensors;
const asPose = (p: ArrayLike<number>, o = 0): Pose => ({ x: p[o]!, y: p[o + 1]!, z: p[o + 2]!, yaw: p[o + 3]!, pitch: p[o + 4]! });

describe('pose features', () => {
  it('equal the reference for poses across the level', () => {
    const n = poseWidth(golden.pose);
    expect(n).toBe(7 + 4 * golden.pose.frequencies.length);
    golden.poses.forEach((p, i) => {
      const out = new Float32Array(n);
      poseFeatures(golden.pose, asPose(p), out);
      golden.features[i]!.forEach((v, j) => expect(Math.abs(out[j]! - v), `pose ${i} feature ${j}`).toBeLessThan(1e-6));
    });
  });
});

describe('a model that takes the pose (tiny_pose)', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(join(fixtures, 'tiny_pose'), { threads: 2, kv: { dtype: 'f32' } });
  });
  afterAll(() => model.close());

  const F = 3;
  const inputs = (b: number): ActionInput[] => {
    const space = model.config.action!;
    const keys = tensor(rollout, `block.${b}.keys`);
    const mouse = tensor(rollout, `block.${b}.mouse`);
    const poses = tensor(rollout, `block.${b}.poses`);
    return Array.from({ length: F }, (_, f) => ({
      keys: space.keys.filter((_, k) => keys[f * space.keys.length + k] === 1),
      mouse: Object.fromEntries(space.mouse.map((a, j) => [a.name, mouse[f * space.mouse.length + j]!])),
      ...(b === 1 ? {} : { pose: asPose(poses, f * 5) }),
    }));
  };

  it('declares the pose in its action space and counts it in the action size', () => {
    const space = model.config.action!;
    expect(space.pose).toEqual({ extent: 12, height: 3, frequencies: [1, 2] });
    expect(actionSize(space)).toBe(7 + 15);
    expect(model.inputs.actions?.size).toBe(22);
  });

  it('encodes keys, mouse and pose as the reference did, and runs its rollout', async () => {
    const s = model.createSession();
    await s.setPrompt(tensor(rollout, 'prompt'));
    for (let b = 0; b < 3; b++) {
      const enc = encodeActions(inputs(b), model.config.action!, F);
      expect(relErr(enc, tensor(rollout, `block.${b}.actions`)), `block ${b} actions`).toBeLessThan(1e-6);
      const noise = Array.from({ length: 4 }, (_, i) => tensor(rollout, `block.${b}.noise.${i}`));
      const out = await s.step({ actions: inputs(b), noise });
      expect(relErr(out.latents, tensor(rollout, `block.${b}.x0`)), `block ${b}`).toBeLessThan(1e-5);
    }
    await s.close();
  });

  it('the pose changes what it draws', async () => {
    const run = async (withPose: boolean): Promise<Float32Array> => {
      const s = model.createSession();
      await s.setPrompt(tensor(rollout, 'prompt'));
      const acts = inputs(0).map((a) => (withPose ? a : { keys: a.keys, mouse: a.mouse }));
      const out = await s.step({ actions: acts, noise: Array.from({ length: 4 }, (_, i) => tensor(rollout, `block.0.noise.${i}`)) });
      await s.close();
      return out.latents;
    };
    expect(relErr(await run(false), await run(true))).toBeGreaterThan(1e-3);
  });

  it('rejects bad poses with errors naming them, and a pose for a model without one', async () => {
    const space = model.config.action!;
    expect(() => encodeActions({ pose: { x: 0, y: 0, z: Number.NaN, yaw: 0, pitch: 0 } }, space, F)).toThrow(/pose\.z must be a finite number/);
    expect(() => encodeActions({ pose: { x: 0, y: 0, z: 0, yaw: 0 } as Pose }, space, F)).toThrow(/pose\.pitch must be a finite number/);
    expect(() => encodeActions({ pose: 3 as unknown as Pose }, space, F)).toThrow(ArgumentError);
    const tiny = await loadModel(tinyDir, { threads: 1 });
    expect(() => encodeActions({ pose: { x: 0, y: 0, z: 0, yaw: 0, pitch: 0 } }, tiny.config.action!, F)).toThrow(/takes no pose/);
    tiny.close();
    // absent: all-zero features
    const enc = encodeActions({ keys: ['w'] }, space, 1);
    expect([...enc.subarray(7)].every((v) => v === 0)).toBe(true);
  });

  it('openingActions commits the opening with those actions', async () => {
    const C = model.config.in_dim;
    const frame = model.config.latent_height * model.config.latent_width;
    const opening = tensor(rollout, 'block.0.x0');
    expect(opening.length).toBe(C * F * frame);
    const pose = asPose(tensor(rollout, 'block.2.poses'));
    const next = async (s: ReturnType<Model['createSession']>): Promise<Float32Array> => {
      await s.setPrompt(tensor(rollout, 'prompt'));
      const out = await s.step({ actions: inputs(2), noise: Array.from({ length: 4 }, (_, i) => tensor(rollout, `block.2.noise.${i}`)) });
      await s.close();
      return out.latents;
    };
    const a = await next(model.createSession({ opening, openingActions: { pose } }));
    const manual = model.createSession();
    await manual.commit(opening, encodeActions({ pose }, model.config.action!, F));
    const b = await next(manual);
    const none = await next(model.createSession({ opening }));
    expect(relErr(a, b)).toBeLessThan(1e-6);
    expect(relErr(a, none)).toBeGreaterThan(1e-4);
    expect(() => model.createSession({ opening, openingActions: [{}, {}] })).toThrow(/openingActions has 2 inputs; the opening has 3 frames/);
  });
});

describe('the game server conditions a pose-taking model on the character pose', () => {
  const space = { mode: 'additive', keys: ['w', 'a', 's', 'd', 'space'], mouse: [{ name: 'dx', min: -1, max: 1 }, { name: 'dy', min: -1, max: 1 }], pose: golden.pose };
  const params = { walkSpeed: 4, maxTurnRate: 3, keyThreshold: 0.3, map: { forward: 'w', back: 's', left: 'a', right: 'd', jump: 'space', yaw: 'dx', pitch: 'dy' } };
  const tick = (x: number, yaw: number): TickMotion => ({ dt: 1 / 30, forward: 0.1, right: 0, up: 0, yaw: 0, pitch: 0, jumped: false, blocked: false, pose: { x, y: 0, z: -x, yaw, pitch: 0 } });

  it("each frame gets the pose after its group's last tick; a frame without ticks the pose given", () => {
    const ticks = [tick(1, 0.1), tick(2, 0.2), tick(3, 0.3), tick(4, 0.4)];
    const n = actionSize(space);
    const c = motionToConditioning(ticks, 2, space, params);
    const want = new Float32Array(poseWidth(space.pose));
    for (const [f, t] of [[0, 1], [1, 3]] as const) {
      poseFeatures(space.pose, ticks[t]!.pose, want);
      expect([...c.encoded!.subarray(f * n + 7, (f + 1) * n)]).toEqual([...want]);
      expect(c.inputs[f]!.keys).toEqual(['w']);
    }
    const rest: Pose = { x: -3, y: 0, z: 5, yaw: 2, pitch: 0.1 };
    const idle = motionToConditioning([], 1, space, params, rest);
    poseFeatures(space.pose, rest, want);
    expect([...idle.encoded!.subarray(7)]).toEqual([...want]);
    // a model without the pose gets none
    const plain = motionToConditioning(ticks, 2, { ...space, pose: undefined }, params);
    expect(plain.encoded!.length).toBe(2 * 7);
  });
});

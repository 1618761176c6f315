// The decoder's geometry map (a model whose TAEHV decoder takes the view's geometry:
// `actionSpace.frameGeometry`): poseInputs draws it at the decoder's size and sampling and,
// where the DiT's map is its average pool (the default world: 16×16 at 4×4 rays vs 64×64 at
// 1), pools the DiT's map from it instead of casting the same rays twice.
import { describe, expect, it, vi } from 'vitest';

// Count the rays renderGeometry casts (width × height × samples² a call), for every module
// that draws maps (conditioning.ts imports it from the same file).
const rays = vi.hoisted(() => ({ n: 0, calls: 0 }));
vi.mock('../world/src/render.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('../world/src/render.js')>();
  return {
    ...m,
    renderGeometry: (...a: Parameters<typeof m.renderGeometry>) => {
      const s = a[4]?.samples ?? m.GEOMETRY_DEFAULTS.samples;
      rays.n += a[2] * a[3] * s * s;
      rays.calls++;
      return m.renderGeometry(...a);
    },
  };
});

import { CHARACTER_COLORS, GEOMETRY_CHANNELS, eyeFromCharacter, geometryPoolFactor, poolGeometry, renderGeometry, type CharacterShape } from '../world/src/render.js';
import { motionToConditioning, poseInputs, takeFrameGeometry } from '../world/src/conditioning.js';
import { defaultLevel, defaultWorldActionSpace } from '../world/src/levels/index.js';
import type { ActionSpace, Pose } from '../sdk/src/index.js';
import type { TickMotion } from '../world/src/physics.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './helpers/fixtures.js';

const maxAbs = (a: Float32Array, b: Float32Array): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

// Two characters standing in front of a camera at the yard's centre looking north, one close.
const pose: Pose = { x: 0, y: 0, z: 0, yaw: 0.1, pitch: -0.05 };
const characters: CharacterShape[] = [
  { x: 0.4, y: 0, z: -3, yaw: Math.PI, radius: 0.35, height: 1.8, color: CHARACTER_COLORS[0]! },
  { x: -2, y: 0, z: -6, yaw: 0.5, radius: 0.35, height: 1.8, color: CHARACTER_COLORS[1]! },
];
const view = { level: defaultLevel, latent: { height: 16, width: 16 }, characters };
// The default world's spaces: the DiT's 16×16 map at 4×4 rays (its config.json), the
// decoder's 64×64 at 1 (its 128×128 frames over scale 2, near 8).
const dit = (JSON.parse(readFileSync(join(root, 'models', 'default', 'config.json'), 'utf8')) as { action: { geometry: { channels: number; samples: number; near: number } } }).action.geometry;
const decoder = { channels: 8, width: 64, height: 64, samples: 1, near: 8 };
const space = (frameGeometry?: typeof decoder, geometry: typeof dit | null = dit): ActionSpace => ({ ...defaultWorldActionSpace, ...(geometry ? { geometry } : {}), ...(frameGeometry ? { frameGeometry } : {}) });

describe('poolGeometry', () => {
  it("reads the default world's DiT map: 16×16 latents at 4×4 rays, near 8", () => {
    expect(dit).toEqual({ channels: 8, samples: 4, near: 8 });
  });

  it('pools a 64×64 map at 1 ray into the 16×16 map at 4×4 rays (the same rays), characters in view', () => {
    const cam = eyeFromCharacter(pose);
    const direct = renderGeometry(defaultLevel, cam, 16, 16, { samples: 4, near: 8, characters });
    // the characters are in view: the map differs from the level's alone
    expect(maxAbs(direct, renderGeometry(defaultLevel, cam, 16, 16, { samples: 4, near: 8 }))).toBeGreaterThan(0.1);
    const fine = renderGeometry(defaultLevel, cam, 64, 64, { samples: 1, near: 8, characters });
    const pooled = poolGeometry(fine, GEOMETRY_CHANNELS, 64, 64, 4);
    expect(pooled.length).toBe(GEOMETRY_CHANNELS * 256);
    expect(maxAbs(pooled, direct)).toBeLessThan(1e-6);
    // 32×32 at 2×2 rays: the same rays again, pooled by 2
    const mid = renderGeometry(defaultLevel, cam, 32, 32, { samples: 2, near: 8, characters });
    expect(maxAbs(poolGeometry(mid, GEOMETRY_CHANNELS, 32, 32, 2), direct)).toBeLessThan(1e-6);
    // a different near is another map
    const other = renderGeometry(defaultLevel, cam, 64, 64, { samples: 1, near: 4, characters });
    expect(maxAbs(poolGeometry(other, GEOMETRY_CHANNELS, 64, 64, 4), direct)).toBeGreaterThan(1e-3);
  });

  it('averages each factor × factor block of every channel, into `out` when given', () => {
    const map = Float32Array.from({ length: 2 * 4 * 6 }, (_, i) => i);
    const out = new Float32Array(2 * 2 * 3 + 1).fill(-1);
    expect(poolGeometry(map, 2, 6, 4, 2, out)).toBe(out);
    // channel 0 rows 0–1, columns 0–1: 0, 1, 6, 7
    expect(Array.from(out.subarray(0, 6))).toEqual([3.5, 5.5, 7.5, 15.5, 17.5, 19.5]);
    expect(out[6]).toBe(24 + 3.5);
    expect(out[12]).toBe(-1);
    expect(poolGeometry(map, 2, 6, 4, 1)).toEqual(map);
  });

  it('checks its arguments', () => {
    const map = new Float32Array(8 * 16);
    expect(() => poolGeometry(map, 8, 4, 4, 3)).toThrow(/does not pool by 3/);
    expect(() => poolGeometry(map, 8, 4, 4, 0)).toThrow(/factor must be a positive integer/);
    expect(() => poolGeometry(map, 8, 4, 4.5, 1)).toThrow(/height must be a positive integer/);
    expect(() => poolGeometry(map, 4, 4, 4, 2)).toThrow(/holds 128 floats, not 4×4×4/);
    expect(() => poolGeometry(map, 8, 4, 4, 2, new Float32Array(31))).toThrow(/32 needed/);
  });
});

describe('geometryPoolFactor', () => {
  it('is the pooling factor exactly when the rays are the same', () => {
    expect(geometryPoolFactor(decoder, { width: 16, height: 16, samples: 4, near: 8 })).toBe(4);
    expect(geometryPoolFactor({ width: 32, height: 24, samples: 2, near: 8 }, { width: 16, height: 12, samples: 4, near: 8 })).toBe(2);
    expect(geometryPoolFactor(decoder, { width: 64, height: 64, samples: 1, near: 8 })).toBe(1);
    // other near, other rays (64×2 ≠ 16×4), the coarse samples not a multiple, another aspect
    expect(geometryPoolFactor(decoder, { width: 16, height: 16, samples: 4, near: 6 })).toBe(0);
    expect(geometryPoolFactor({ ...decoder, samples: 2 }, { width: 16, height: 16, samples: 4, near: 8 })).toBe(0);
    expect(geometryPoolFactor({ width: 48, height: 48, samples: 2, near: 8 }, { width: 32, height: 32, samples: 3, near: 8 })).toBe(0);
    expect(geometryPoolFactor(decoder, { width: 16, height: 8, samples: 4, near: 8 })).toBe(0);
    // the renderer's defaults stand in for what a spec leaves out (4 samples, near 8)
    expect(geometryPoolFactor(decoder, { width: 16, height: 16 })).toBe(4);
  });
});

describe('poseInputs with a geometry decoder', () => {
  it('draws the decoder map at its size and pools the DiT map from it: the rays of one map a frame', () => {
    const cam = eyeFromCharacter(pose);
    rays.n = rays.calls = 0;
    const before = poseInputs(pose, space(undefined), { view });
    const ditOnly = rays.n;
    expect(ditOnly).toBe(16 * 16 * 16);
    expect(before.frameGeometry).toBeUndefined();
    rays.n = rays.calls = 0;
    const p = poseInputs(pose, space(decoder), { view });
    expect(rays.n).toBe(ditOnly); // unchanged for the default model
    expect(rays.calls).toBe(1);
    expect(p.frameGeometry).toEqual(renderGeometry(defaultLevel, cam, 64, 64, { samples: 1, near: 8, characters }));
    expect(maxAbs(p.geometry!, before.geometry!)).toBeLessThan(1e-6);
    expect(p.pose).toBeUndefined(); // this space takes no pose
  });

  it('draws both where the DiT map is not a pool of the decoder map', () => {
    const cam = eyeFromCharacter(pose);
    const coarse = { ...decoder, samples: 2 }; // 64×2 rays across ≠ 16×4
    rays.n = rays.calls = 0;
    const p = poseInputs(pose, space(coarse), { view });
    expect(rays.calls).toBe(2);
    expect(rays.n).toBe(16 * 16 * 16 + 64 * 64 * 4);
    expect(p.geometry).toEqual(renderGeometry(defaultLevel, cam, 16, 16, { ...dit, characters }));
    expect(p.frameGeometry).toEqual(renderGeometry(defaultLevel, cam, 64, 64, { samples: 2, near: 8, characters }));
    // a decoder map alone (a model whose DiT takes none)
    const q = poseInputs(pose, space(decoder, null), { view });
    expect(q.geometry).toBeUndefined();
    expect(q.frameGeometry).toEqual(renderGeometry(defaultLevel, cam, 64, 64, { samples: 1, near: 8, characters }));
    // no view: no maps at all
    expect(poseInputs(pose, space(decoder), {})).toEqual({});
  });

  it("gives every frame of a block its own decoder map, which takeFrameGeometry moves out of the inputs", () => {
    // three frames walking forward: each frame's map is drawn from that frame's pose
    const tick = (z: number): TickMotion => ({ dt: 1 / 30, forward: 0.1, right: 0, up: 0, yaw: 0, pitch: 0, jumped: false, blocked: false, pose: { x: 0, y: 0, z, yaw: 0, pitch: 0 } });
    const ticks = [tick(-0.5), tick(-1), tick(-1.5), tick(-2), tick(-2.5), tick(-3)];
    const p = { walkSpeed: 4, maxTurnRate: 3, keyThreshold: 0.3, map: { forward: 'w', back: 's', left: 'a', right: 'd', jump: 'space', yaw: 'dx', pitch: 'dy' }, view };
    const c = motionToConditioning(ticks, 3, space(decoder), p);
    expect(c.geometry!.length).toBe(8 * 3 * 256);
    const maps = takeFrameGeometry(c)!;
    expect(maps.length).toBe(3);
    maps.forEach((m, f) => expect(m).toEqual(renderGeometry(defaultLevel, eyeFromCharacter(ticks[2 * f + 1]!.pose!), 64, 64, { samples: 1, near: 8, characters })));
    expect(maps[0]).not.toEqual(maps[2]);
    expect(c.inputs.every((a) => a.frameGeometry === undefined)).toBe(true);
    expect(takeFrameGeometry(c)).toBeUndefined();
    // a model whose decoder takes none: nothing to take
    expect(takeFrameGeometry(motionToConditioning(ticks, 3, space(undefined), p))).toBeUndefined();
  });
});

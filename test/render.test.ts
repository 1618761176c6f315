// The ground-truth renderer (world/src/render.ts) and the level fields it draws:
// deterministic bytes, each wall of the yard in its own colour, sky above, the lighting
// presets, and a pillar standing where rapier's collider stops the character.
import { describe, expect, it } from 'vitest';

import {
  LIGHTING,
  PROMPTS,
  PhysicsWorld,
  castRay,
  defaultLevel,
  eyeFromCharacter,
  renderView,
  validateLevel,
  type Camera,
  type Level,
} from '../gameserver/src/index.js';

const SIZE = 64;

/** Mean RGB (0..255) of a square of pixels around (cx, cy). */
function meanAt(img: Uint8Array, w: number, cx: number, cy: number, r = 1): [number, number, number] {
  const m: [number, number, number] = [0, 0, 0];
  let n = 0;
  for (let y = cy - r; y <= cy + r; y++)
    for (let x = cx - r; x <= cx + r; x++) {
      for (let c = 0; c < 3; c++) m[c] += img[(y * w + x) * 3 + c]!;
      n++;
    }
  return m.map((v) => v / n) as [number, number, number];
}

function chroma(c: readonly number[]): number[] {
  const s = c[0]! + c[1]! + c[2]! + 1e-9;
  return c.map((v) => v / s);
}

function stats(img: Uint8Array): { mean: number; std: number } {
  let s = 0;
  let s2 = 0;
  const n = img.length / 3;
  for (let i = 0; i < img.length; i += 3) {
    const l = 0.299 * img[i]! + 0.587 * img[i + 1]! + 0.114 * img[i + 2]!;
    s += l;
    s2 += l * l;
  }
  const mean = s / n;
  return { mean, std: Math.sqrt(Math.max(0, s2 / n - mean * mean)) };
}

const centre = (yaw: number, pitch = 0): Camera => eyeFromCharacter({ x: 0, y: 0, z: 0, yaw, pitch });

describe('renderView', () => {
  it('is deterministic and fills a caller buffer with the same bytes', () => {
    const cam = { x: 1.3, y: 1.6, z: 2.1, yaw: 0.7, pitch: -0.2 };
    const a = renderView(defaultLevel, cam, 'dusk', SIZE, 48);
    const b = renderView(defaultLevel, cam, 'dusk', SIZE, 48);
    expect(a.length).toBe(SIZE * 48 * 3);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    const out = new Uint8Array(SIZE * 48 * 3).fill(7);
    expect(renderView(defaultLevel, cam, LIGHTING.dusk, SIZE, 48, out)).toBe(out);
    expect(Buffer.from(out).equals(Buffer.from(a))).toBe(true);
  });

  it('shows each wall of the yard in its own colour from the centre', () => {
    const walls = ['wall-north', 'wall-west', 'wall-south', 'wall-east'];
    const colours = walls.map((n) => defaultLevel.boxes.find((b) => b.name === n)!.color!);
    // yaw 0 faces -Z (north) and grows to the left: +π/2 faces -X (west).
    const yaws = [0, Math.PI / 2, Math.PI, -Math.PI / 2];
    yaws.forEach((yaw, i) => {
      const img = renderView(defaultLevel, centre(yaw), 'day', SIZE, SIZE);
      const px = chroma(meanAt(img, SIZE, SIZE / 2, SIZE / 2));
      const dist = colours.map((c) => Math.hypot(...chroma(c).map((v, k) => v - px[k]!)));
      expect(dist.indexOf(Math.min(...dist)), `facing ${walls[i]}`).toBe(i);
    });
  });

  it('shows the sky in the top rows when looking up', () => {
    const img = renderView(defaultLevel, centre(0.3, 1.2), 'day', SIZE, SIZE);
    const sky = LIGHTING.day.skyZenith;
    for (let x = 0; x < SIZE; x += 8) {
      const [r, g, b] = meanAt(img, SIZE, x + 1, 1);
      expect(b).toBeGreaterThan(r + 40);
      expect(b).toBeGreaterThan(g);
      expect(Math.abs(b - sky[2] * 255)).toBeLessThan(60);
    }
  });

  it('lights the scene by prompt: night darker than day but not black, fog washes out the distance', () => {
    const cam = centre(0.4, -0.05);
    const imgs = Object.fromEntries(PROMPTS.map((p) => [p, renderView(defaultLevel, cam, p, SIZE, SIZE)]));
    const s = Object.fromEntries(PROMPTS.map((p) => [p, stats(imgs[p]!)]));
    for (const p of PROMPTS.slice(1)) expect(Buffer.from(imgs[p]!).equals(Buffer.from(imgs.day!)), p).toBe(false);
    expect(s.night!.mean).toBeLessThan(0.4 * s.day!.mean);
    expect(s.night!.mean).toBeGreaterThan(5);
    expect(s.night!.std).toBeGreaterThan(1); // something is still visible
    // The north wall (≈12 m away at the image centre) against the sky just above it.
    const contrast = (img: Uint8Array): number => {
      const wall = meanAt(img, SIZE, SIZE / 2, SIZE / 2 - 2);
      const sky = meanAt(img, SIZE, SIZE / 2, 6);
      return Math.hypot(wall[0] - sky[0], wall[1] - sky[1], wall[2] - sky[2]);
    };
    expect(contrast(imgs.fog!)).toBeLessThan(0.25 * contrast(imgs.day!));
    expect(s.fog!.std).toBeLessThan(s.day!.std);
  });

  it('draws a pillar where its rapier collider stops the character', async () => {
    const pillar = defaultLevel.pillars!.find((p) => p.name === 'pillar-white')!;
    const [px, pz] = pillar.center;
    const world = await PhysicsWorld.create(defaultLevel);
    try {
      // Stand 3 m south of the pillar facing it (-Z) and walk into it for 2 s.
      const ch = world.addCharacter({ position: [px, 0, pz + 3], yaw: 0 });
      const input = { keys: 1, lookX: 0, lookY: 0 };
      for (let i = 0; i < 60; i++) {
        ch.step(input, 1 / 30);
        world.step(1 / 30);
      }
      const gap = ch.z - (pz + pillar.radius); // capsule axis to the pillar's surface
      expect(Math.abs(ch.x - px)).toBeLessThan(0.05);
      expect(gap).toBeGreaterThan(ch.params.radius - 0.01);
      expect(gap).toBeLessThan(ch.params.radius + 0.08);
      // The renderer's geometry puts the surface at the same place...
      const hit = castRay(defaultLevel, ch.x, ch.y + 1, ch.z, 0, 0, -1);
      expect(Math.abs(ch.z - hit - (pz + pillar.radius))).toBeLessThan(1e-9);
      // ...and the character's view is filled by the pillar's colour.
      const img = renderView(defaultLevel, eyeFromCharacter(ch), 'day', SIZE, SIZE);
      const c = pillar.color!;
      const mid = meanAt(img, SIZE, SIZE / 2, SIZE / 2, 3);
      const far = chroma(mid).map((v, k) => v - chroma(c)[k]!);
      expect(Math.hypot(...far)).toBeLessThan(0.03);
      expect(mid[0]).toBeGreaterThan(150);
    } finally {
      world.free();
    }
  });

  it('validates the visual level fields', () => {
    const base = (): Level => JSON.parse(JSON.stringify(defaultLevel)) as Level;
    expect(validateLevel(base()).name).toBe('yard');
    expect(validateLevel({ name: 'bare', boxes: [{ center: [0, 1, 0], halfExtents: [1, 1, 1] }], spawns: [{ position: [0, 0, 3] }] }).pillars).toBeUndefined();
    const bad: Array<[string, (l: Level) => void]> = [
      ['boxes[0].color', (l) => (l.boxes[0]!.color = [1, 2, 0])],
      ['pillars[1].radius', (l) => (l.pillars![1]!.radius = 0)],
      ['pillars[0].center', (l) => ((l.pillars![0] as unknown as { center: number[] }).center = [1, 2, 3])],
      ['floor.colors', (l) => (l.floor!.colors = [[0, 0, 0]] as never)],
      ['floor.tile', (l) => (l.floor!.tile = -1)],
    ];
    for (const [field, spoil] of bad) {
      const l = base();
      spoil(l);
      expect(() => validateLevel(l), field).toThrow(field);
    }
  });
});

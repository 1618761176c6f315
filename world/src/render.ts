/**
 * The ground-truth renderer: a deterministic software ray caster of a {@link Level} (its
 * checker floor, boxes and pillars, and a sky), the one implementation the dataset
 * generator and the evaluation both use.
 *
 * Camera: a pinhole at the EYE position ({@link eyeFromCharacter}), vertical field of view
 * {@link FOV_Y}, square pixels, with the physics conventions: y is up, yaw 0 looks at -Z and
 * grows to the left, pitch > 0 looks up. Each pixel averages a 2×2 grid of rays (so the
 * checker floor does not alias). A ray hitting the floor, a box (oriented by its yaw) or a
 * pillar (a capped cylinder on the floor) is shaded Lambert (a sun or moon direction plus
 * ambient, per-face normals) and then mixed exponentially toward the fog colour with
 * distance; a ray hitting nothing shows the sky gradient with the sun's (moon's) disc.
 *
 * Characters (players and walkers, {@link CharacterShape}) are drawn where physics has them:
 * vertical capsules in their own colour with a light visor band on the side they face.
 *
 * Output: RGB bytes, HWC row-major, top row first. Same inputs give identical bytes.
 * The per-level data is compiled once and cached by level object: a level mutated after
 * its first render must be passed as a new object.
 */
import { DEFAULT_BOX_COLOR, DEFAULT_FLOOR_COLORS, DEFAULT_FLOOR_TILE, type Color, type Level } from './levels/index.js';

/** An eye position and view direction (radians, physics conventions). */
export interface Camera {
  x: number;
  y: number;
  z: number;
  yaw: number;
  pitch: number;
}

/** How a scene is lit and what the sky looks like. */
export interface Lighting {
  /** Sky colour straight up and at the horizon (and below it). */
  skyZenith: Color;
  skyHorizon: Color;
  /** Direction toward the sun (or moon); normalized on use. */
  sunDir: [number, number, number];
  /** Direct light colour × intensity. */
  sunColor: Color;
  /** Ambient light colour × intensity. */
  ambient: Color;
  /** Colour distant surfaces fade toward, and the fading rate (1/m): a surface at distance d keeps exp(-density·d) of its colour. */
  fogColor: Color;
  fogDensity: number;
  /** The sun's (moon's) disc in the sky: colour and angular radius (rad; 0 = none). */
  discColor: Color;
  discSize: number;
}

/** Names of the lighting presets, in their dataset index order. */
export const PROMPTS = ['day', 'dusk', 'night', 'fog'] as const;
export type PromptName = (typeof PROMPTS)[number];

function norm3(x: number, y: number, z: number): [number, number, number] {
  const l = Math.hypot(x, y, z);
  return [x / l, y / l, z / l];
}

export const LIGHTING: Record<PromptName, Lighting> = {
  day: {
    skyZenith: [0.22, 0.45, 0.88],
    skyHorizon: [0.68, 0.8, 0.95],
    sunDir: norm3(0.45, 0.8, 0.4),
    sunColor: [0.62, 0.6, 0.55],
    ambient: [0.56, 0.58, 0.64],
    fogColor: [0.68, 0.8, 0.95],
    fogDensity: 0.006,
    discColor: [1, 1, 0.92],
    discSize: 0.05,
  },
  dusk: {
    skyZenith: [0.28, 0.16, 0.42],
    skyHorizon: [0.98, 0.52, 0.26],
    sunDir: norm3(-0.9, 0.13, 0.35),
    sunColor: [0.95, 0.55, 0.3],
    ambient: [0.3, 0.22, 0.32],
    fogColor: [0.78, 0.45, 0.36],
    fogDensity: 0.014,
    discColor: [1, 0.72, 0.4],
    discSize: 0.06,
  },
  night: {
    skyZenith: [0.01, 0.015, 0.06],
    skyHorizon: [0.05, 0.07, 0.16],
    sunDir: norm3(0.3, 0.6, -0.7),
    sunColor: [0.22, 0.27, 0.42],
    ambient: [0.1, 0.11, 0.18],
    fogColor: [0.04, 0.05, 0.12],
    fogDensity: 0.03,
    discColor: [0.85, 0.88, 0.95],
    discSize: 0.035,
  },
  fog: {
    skyZenith: [0.76, 0.78, 0.8],
    skyHorizon: [0.8, 0.81, 0.82],
    sunDir: norm3(0.2, 0.9, 0.3),
    sunColor: [0.3, 0.3, 0.3],
    ambient: [0.6, 0.6, 0.62],
    fogColor: [0.8, 0.81, 0.82],
    fogDensity: 0.32,
    discColor: [0.8, 0.81, 0.82],
    discSize: 0,
  },
};

/** The camera's height above the character's feet (m). */
export const EYE_HEIGHT = 1.6;
/** Vertical field of view (rad). */
export const FOV_Y = (75 * Math.PI) / 180;

/** The eye camera of a character given its foot position and view angles. */
export function eyeFromCharacter(c: { x: number; y: number; z: number; yaw: number; pitch: number }): Camera {
  return { x: c.x, y: c.y + EYE_HEIGHT, z: c.z, yaw: c.yaw, pitch: c.pitch };
}

// ------------------------------------------------------------------ compiled scene

/**
 * A character to draw: the capsule physics moves (feet at x, y, z; radius; total height),
 * facing `yaw` (physics conventions: 0 faces −Z), in its own colour. The side it faces
 * carries a visor band (at 70–86% of its height) so which way it looks can be seen.
 */
export interface CharacterShape {
  x: number;
  y: number;
  z: number;
  yaw: number;
  radius: number;
  height: number;
  color: Color;
}

/** The visor band's colour (light, so it reads under every lighting preset). */
export const VISOR_COLOR: Color = [0.95, 0.93, 0.85];

/** Distinct character colours, by character index (players and walkers take them in turn). */
export const CHARACTER_COLORS: readonly Color[] = [
  [0.85, 0.2, 0.15],
  [0.15, 0.45, 0.9],
  [0.95, 0.75, 0.1],
  [0.55, 0.25, 0.75],
  [0.1, 0.7, 0.45],
  [0.95, 0.45, 0.7],
  [0.35, 0.3, 0.25],
  [0.0, 0.75, 0.8],
];

const CHAR_STRIDE = 10; // x y0 z radius height sin(yaw) cos(yaw) r g b
const NO_CHARS = new Float64Array(0);

/** Characters packed for trace(); validated (finite numbers, positive sizes). */
function packCharacters(chars: readonly CharacterShape[] | undefined): Float64Array {
  if (!chars || chars.length === 0) return NO_CHARS;
  const out = new Float64Array(chars.length * CHAR_STRIDE);
  chars.forEach((c, i) => {
    const v = [c.x, c.y, c.z, c.radius, c.height, Math.sin(c.yaw), Math.cos(c.yaw), c.color[0], c.color[1], c.color[2]];
    if (!v.every(Number.isFinite) || !(c.radius > 0) || !(c.height >= 2 * c.radius)) throw new Error(`character ${i}: position, yaw, colour must be finite, radius > 0 and height >= 2 radius`);
    out.set(v, i * CHAR_STRIDE);
  });
  return out;
}

const BOX_STRIDE = 12; // cx cy cz hx hy hz cos sin r g b, bounding radius²
const PIL_STRIDE = 8; // cx cz radius y0 y1 r g b

interface Scene {
  hasFloor: boolean;
  floorY: number;
  tile: number;
  floor0: Color;
  floor1: Color;
  boxes: Float64Array;
  nBoxes: number;
  pillars: Float64Array;
  nPillars: number;
}

const scenes = new WeakMap<Level, Scene>();

function compile(level: Level): Scene {
  let s = scenes.get(level);
  if (s) return s;
  const boxes = new Float64Array(level.boxes.length * BOX_STRIDE);
  level.boxes.forEach((b, i) => {
    const yaw = b.yaw ?? 0;
    const c = b.color ?? DEFAULT_BOX_COLOR;
    const [hx, hy, hz] = b.halfExtents;
    boxes.set([...b.center, hx, hy, hz, Math.cos(yaw), Math.sin(yaw), c[0], c[1], c[2], (hx * hx + hy * hy + hz * hz) * 1.0001], i * BOX_STRIDE);
  });
  const pl = level.pillars ?? [];
  const base = level.floor?.y ?? 0;
  const pillars = new Float64Array(pl.length * PIL_STRIDE);
  pl.forEach((p, i) => {
    const c = p.color ?? DEFAULT_BOX_COLOR;
    pillars.set([p.center[0], p.center[1], p.radius, base, base + p.height, c[0], c[1], c[2]], i * PIL_STRIDE);
  });
  const colors = level.floor?.colors ?? DEFAULT_FLOOR_COLORS;
  s = {
    hasFloor: level.floor !== undefined,
    floorY: base,
    tile: level.floor?.tile ?? DEFAULT_FLOOR_TILE,
    floor0: colors[0],
    floor1: colors[1],
    boxes,
    nBoxes: level.boxes.length,
    pillars,
    nPillars: pl.length,
  };
  scenes.set(level, s);
  return s;
}

// The nearest hit of the last trace(): t, normal xyz, colour rgb. A typed array, not
// module-level `let`s: those would box every stored double (an allocation per ray).
const HIT = new Float64Array(7);

const EPS = 1e-6;

/** Nearest hit along the ray o + t·d (t > 0); fills the hit* state. d need not be unit length (t is then in units of |d|). */
function trace(s: Scene, ox: number, oy: number, oz: number, dx: number, dy: number, dz: number, C: Float64Array = NO_CHARS): boolean {
  let best = Infinity;
  let hitNx = 0;
  let hitNy = 0;
  let hitNz = 0;
  let hitR = 0;
  let hitG = 0;
  let hitB = 0;
  // Floor plane.
  if (s.hasFloor && dy < 0 && oy > s.floorY) {
    const t = (s.floorY - oy) / dy;
    if (t > EPS) {
      best = t;
      hitNx = 0;
      hitNy = 1;
      hitNz = 0;
      const px = ox + t * dx;
      const pz = oz + t * dz;
      const parity = (Math.floor(px / s.tile) + Math.floor(pz / s.tile)) & 1;
      const c = parity ? s.floor1 : s.floor0;
      hitR = c[0];
      hitG = c[1];
      hitB = c[2];
    }
  }
  // Boxes: slab test in the box frame (world = Ry(yaw)·local).
  const B = s.boxes;
  for (let i = 0, o = 0; i < s.nBoxes; i++, o += BOX_STRIDE) {
    const wx = ox - B[o]!;
    const loy = oy - B[o + 1]!;
    const wz = oz - B[o + 2]!;
    // Bounding sphere: skip boxes the ray passes by (or that lie behind it, or beyond the best hit).
    const along = wx * dx + loy * dy + wz * dz; // < 0 when the centre lies ahead
    const r2 = B[o + 11]!;
    const dd = dx * dx + dy * dy + dz * dz;
    const oc2 = wx * wx + loy * loy + wz * wz;
    if (oc2 > r2) {
      if (along >= 0) continue; // moving away from the centre while outside the sphere
      if (oc2 - (along * along) / dd > r2) continue;
    }
    const c = B[o + 6]!;
    const sn = B[o + 7]!;
    const lox = wx * c - wz * sn;
    const loz = wx * sn + wz * c;
    const ldx = dx * c - dz * sn;
    const ldz = dx * sn + dz * c;
    const hx = B[o + 3]!;
    const hy = B[o + 4]!;
    const hz = B[o + 5]!;
    let tn = -Infinity;
    let tf = Infinity;
    let axis = 0;
    let sign = 0;
    // x
    if (ldx > 1e-12 || ldx < -1e-12) {
      const inv = 1 / ldx;
      let t1 = (-hx - lox) * inv;
      let t2 = (hx - lox) * inv;
      if (t1 > t2) {
        const tmp = t1;
        t1 = t2;
        t2 = tmp;
      }
      if (t1 > tn) {
        tn = t1;
        axis = 0;
        sign = ldx > 0 ? -1 : 1;
      }
      if (t2 < tf) tf = t2;
    } else if (lox < -hx || lox > hx) continue;
    // y
    if (dy > 1e-12 || dy < -1e-12) {
      const inv = 1 / dy;
      let t1 = (-hy - loy) * inv;
      let t2 = (hy - loy) * inv;
      if (t1 > t2) {
        const tmp = t1;
        t1 = t2;
        t2 = tmp;
      }
      if (t1 > tn) {
        tn = t1;
        axis = 1;
        sign = dy > 0 ? -1 : 1;
      }
      if (t2 < tf) tf = t2;
    } else if (loy < -hy || loy > hy) continue;
    // z
    if (ldz > 1e-12 || ldz < -1e-12) {
      const inv = 1 / ldz;
      let t1 = (-hz - loz) * inv;
      let t2 = (hz - loz) * inv;
      if (t1 > t2) {
        const tmp = t1;
        t1 = t2;
        t2 = tmp;
      }
      if (t1 > tn) {
        tn = t1;
        axis = 2;
        sign = ldz > 0 ? -1 : 1;
      }
      if (t2 < tf) tf = t2;
    } else if (loz < -hz || loz > hz) continue;
    if (tn > tf || tn <= EPS || tn >= best) continue;
    best = tn;
    if (axis === 1) {
      hitNx = 0;
      hitNy = sign;
      hitNz = 0;
    } else {
      const lnx = axis === 0 ? sign : 0;
      const lnz = axis === 2 ? sign : 0;
      hitNx = lnx * c + lnz * sn;
      hitNy = 0;
      hitNz = -lnx * sn + lnz * c;
    }
    hitR = B[o + 8]!;
    hitG = B[o + 9]!;
    hitB = B[o + 10]!;
  }
  // Pillars: capped vertical cylinders.
  const P = s.pillars;
  const a = dx * dx + dz * dz;
  for (let i = 0, o = 0; i < s.nPillars; i++, o += PIL_STRIDE) {
    const px = ox - P[o]!;
    const pz = oz - P[o + 1]!;
    const r = P[o + 2]!;
    const y0 = P[o + 3]!;
    const y1 = P[o + 4]!;
    let t = Infinity;
    let nx = 0;
    let ny = 0;
    let nz = 0;
    if (a > 1e-12) {
      const b = px * dx + pz * dz;
      const cc = px * px + pz * pz - r * r;
      const disc = b * b - a * cc;
      if (disc >= 0) {
        const ts = (-b - Math.sqrt(disc)) / a;
        if (ts > EPS) {
          const y = oy + ts * dy;
          if (y >= y0 && y <= y1) {
            t = ts;
            nx = (px + ts * dx) / r;
            nz = (pz + ts * dz) / r;
          }
        }
      }
    }
    if (dy < 0 && oy > y1) {
      const tc = (y1 - oy) / dy;
      const qx = px + tc * dx;
      const qz = pz + tc * dz;
      if (tc < t && qx * qx + qz * qz <= r * r) {
        t = tc;
        nx = 0;
        ny = 1;
        nz = 0;
      }
    } else if (dy > 0 && oy < y0) {
      const tc = (y0 - oy) / dy;
      const qx = px + tc * dx;
      const qz = pz + tc * dz;
      if (tc < t && qx * qx + qz * qz <= r * r) {
        t = tc;
        nx = 0;
        ny = -1;
        nz = 0;
      }
    }
    if (t < best) {
      best = t;
      hitNx = nx;
      hitNy = ny;
      hitNz = nz;
      hitR = P[o + 5]!;
      hitG = P[o + 6]!;
      hitB = P[o + 7]!;
    }
  }
  // Characters: vertical capsules (a cylinder between two hemispheres).
  const dd = dx * dx + dy * dy + dz * dz;
  for (let o = 0; o < C.length; o += CHAR_STRIDE) {
    const px = ox - C[o]!;
    const pz = oz - C[o + 2]!;
    const r = C[o + 3]!;
    if (a <= 1e-12 && px * px + pz * pz > r * r) continue;
    const b2 = px * dx + pz * dz;
    const cc = px * px + pz * pz - r * r;
    if (a > 1e-12 && b2 * b2 - a * cc < 0) continue; // misses the infinite cylinder: misses the capsule
    const yLo = C[o + 1]! + r;
    const yHi = C[o + 1]! + C[o + 4]! - r;
    let t = Infinity;
    let nx = 0;
    let ny = 0;
    let nz = 0;
    if (a > 1e-12) {
      const ts = (-b2 - Math.sqrt(b2 * b2 - a * cc)) / a;
      const y = oy + ts * dy;
      if (ts > EPS && y >= yLo && y <= yHi) {
        t = ts;
        nx = (px + ts * dx) / r;
        nz = (pz + ts * dz) / r;
      }
    }
    for (let k = 0; k < 2; k++) {
      const cy = k === 0 ? yLo : yHi;
      const qy = oy - cy;
      const bb = px * dx + qy * dy + pz * dz;
      const c2 = px * px + qy * qy + pz * pz - r * r;
      const disc = bb * bb - dd * c2;
      if (disc < 0) continue;
      const ts = (-bb - Math.sqrt(disc)) / dd;
      if (ts <= EPS || ts >= t) continue;
      const hy = oy + ts * dy;
      if ((k === 0 && hy > yLo) || (k === 1 && hy < yHi)) continue; // the cylinder's part
      t = ts;
      nx = (px + ts * dx) / r;
      ny = (qy + ts * dy) / r;
      nz = (pz + ts * dz) / r;
    }
    if (t >= best) continue;
    best = t;
    hitNx = nx;
    hitNy = ny;
    hitNz = nz;
    // The visor: the band at 70-86% of the height, on the side the character faces (-sin yaw, -cos yaw).
    const y = oy + t * dy - C[o + 1]!;
    const h = C[o + 4]!;
    const facing = -nx * C[o + 5]! - nz * C[o + 6]!;
    if (y >= 0.7 * h && y <= 0.86 * h && facing > 0.45) {
      hitR = VISOR_COLOR[0];
      hitG = VISOR_COLOR[1];
      hitB = VISOR_COLOR[2];
    } else {
      hitR = C[o + 7]!;
      hitG = C[o + 8]!;
      hitB = C[o + 9]!;
    }
  }
  if (best === Infinity) return false;
  HIT[0] = best;
  HIT[1] = hitNx;
  HIT[2] = hitNy;
  HIT[3] = hitNz;
  HIT[4] = hitR;
  HIT[5] = hitG;
  HIT[6] = hitB;
  return true;
}

/**
 * Distance along a ray from (ox, oy, oz) in direction (dx, dy, dz) (need not be unit) to
 * the level's first surface, in units of the direction's length; Infinity when it hits nothing.
 */
export function castRay(level: Level, ox: number, oy: number, oz: number, dx: number, dy: number, dz: number): number {
  return trace(compile(level), ox, oy, oz, dx, dy, dz) ? HIT[0]! : Infinity;
}

/** A lighting preset by name, or the lighting itself. */
export function resolveLighting(lighting: Lighting | PromptName): Lighting {
  if (typeof lighting !== 'string') return lighting;
  const l = LIGHTING[lighting];
  if (!l) throw new Error(`unknown lighting preset "${lighting}" (one of ${PROMPTS.join(', ')})`);
  return l;
}

/**
 * Render the level from `camera` (the eye) under `lighting` into `width × height` RGB bytes
 * (HWC, top row first), into `out` when given (it must hold width·height·3 bytes).
 */
export function renderView(
  level: Level,
  camera: Camera,
  lighting: Lighting | PromptName,
  width: number,
  height: number,
  out?: Uint8Array,
  characters?: readonly CharacterShape[],
): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new Error('width and height must be positive integers');
  const chars = packCharacters(characters);
  const n = width * height * 3;
  if (out && out.length < n) throw new Error(`out holds ${out.length} bytes; ${n} needed`);
  const img = out ?? new Uint8Array(n);
  const s = compile(level);
  const L = resolveLighting(lighting);
  const [sx0, sy0, sz0] = norm3(...L.sunDir);
  const [zr, zg, zb] = L.skyZenith;
  const [hr, hg, hb] = L.skyHorizon;
  const [lr, lg, lb] = L.sunColor;
  const [ar, ag, ab] = L.ambient;
  const [fr, fg, fb] = L.fogColor;
  const [dr, dg, db] = L.discColor;
  const fogK = L.fogDensity;
  const cosDisc = L.discSize > 0 ? Math.cos(L.discSize) : 2;
  const cosGlow = L.discSize > 0 ? Math.cos(L.discSize * 4) : 2;
  const glowScale = 1 / (1 - cosGlow);

  const basis = cameraBasis(camera);
  const tanV = Math.tan(FOV_Y / 2);
  const tanH = (tanV * width) / height;
  const ox = camera.x;
  const oy = camera.y;
  const oz = camera.z;

  let p = 0;
  for (let py = 0; py < height; py++) {
    for (let px = 0; px < width; px++) {
      let accR = 0;
      let accG = 0;
      let accB = 0;
      for (let sub = 0; sub < 4; sub++) {
        primaryRay(basis, tanH, tanV, (px + 0.25 + 0.5 * (sub & 1)) / width, (py + 0.25 + 0.5 * (sub >> 1)) / height);
        const dx = RAY[0]!;
        const dy = RAY[1]!;
        const dz = RAY[2]!;
        let cr: number;
        let cg: number;
        let cb: number;
        if (trace(s, ox, oy, oz, dx, dy, dz, chars)) {
          const ny = HIT[2]!;
          const lam = HIT[1]! * sx0 + ny * sy0 + HIT[3]! * sz0;
          const direct = lam > 0 ? lam : 0;
          const amb = 0.8 + 0.2 * ny; // a little less ambient under overhangs and on walls than on tops
          cr = HIT[4]! * (ar * amb + lr * direct);
          cg = HIT[5]! * (ag * amb + lg * direct);
          cb = HIT[6]! * (ab * amb + lb * direct);
          const f = Math.exp(-fogK * HIT[0]!);
          cr = cr * f + fr * (1 - f);
          cg = cg * f + fg * (1 - f);
          cb = cb * f + fb * (1 - f);
        } else {
          const t = dy > 0 ? Math.sqrt(dy) : 0;
          cr = hr + (zr - hr) * t;
          cg = hg + (zg - hg) * t;
          cb = hb + (zb - hb) * t;
          const cs = dx * sx0 + dy * sy0 + dz * sz0;
          if (cs > cosDisc) {
            cr = dr;
            cg = dg;
            cb = db;
          } else if (cs > cosGlow) {
            const g = (cs - cosGlow) * glowScale;
            const w = 0.5 * g * g;
            cr += (dr - cr) * w;
            cg += (dg - cg) * w;
            cb += (db - cb) * w;
          }
        }
        accR += cr;
        accG += cg;
        accB += cb;
      }
      img[p++] = toByte(accR * 0.25);
      img[p++] = toByte(accG * 0.25);
      img[p++] = toByte(accB * 0.25);
    }
  }
  return img;
}

/** Channels of a {@link renderGeometry} map. */
export const GEOMETRY_CHANNELS = 8;

/** How a {@link renderGeometry} map is sampled (a model's `config.json` `action.geometry`). */
export interface GeometryOptions {
  /** Rays per map pixel along each axis (samples² rays per pixel; default 4). */
  samples?: number;
  /** Distance scale (m) of the nearness channel exp(-d / near) (default 8). */
  near?: number;
  /** Characters in the view (players, walkers): drawn as surfaces like any other, in the same channels. */
  characters?: readonly CharacterShape[];
}

/** The sampling a {@link renderGeometry} map gets when its options leave it out. */
export const GEOMETRY_DEFAULTS: Required<Omit<GeometryOptions, 'characters'>> = { samples: 4, near: 8 };

/**
 * The level's geometry as seen from `camera`: a coarse, lighting-free map of what each
 * pixel's rays hit, for models that take the view's geometry as a per-frame input (the
 * game server knows its level; the model paints it). Float32 CHW [8, height, width]; each
 * pixel averages samples² rays over its footprint of the same pinhole camera as
 * {@link renderView} (so a map at the latent size lines up with the frame's latent pixels):
 *   0–2  albedo r, g, b of the surfaces hit (a ray into the sky adds 0)
 *   3    coverage: the fraction of rays that hit a surface (1 − sky)
 *   4    nearness: exp(−distance / near) of the surfaces hit (sky adds 0)
 *   5–7  world-space normal x, y, z of the surfaces hit (sky adds 0)
 * Characters (`opts.characters`) are surfaces like the level's: their colour (and visor) in
 * the albedo, their capsule's normal — the same 8 channels, so a model's input layout does
 * not change with them.
 */
export function renderGeometry(level: Level, camera: Camera, width: number, height: number, opts: GeometryOptions = {}, out?: Float32Array): Float32Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new Error('width and height must be positive integers');
  const S = opts.samples ?? GEOMETRY_DEFAULTS.samples;
  const near = opts.near ?? GEOMETRY_DEFAULTS.near;
  if (!Number.isInteger(S) || S < 1 || S > 64) throw new Error('geometry samples must be an integer in [1, 64]');
  if (!(near > 0) || !Number.isFinite(near)) throw new Error('geometry near must be a positive number');
  const plane = width * height;
  const n = GEOMETRY_CHANNELS * plane;
  if (out && out.length < n) throw new Error(`out holds ${out.length} floats; ${n} needed`);
  const map = out ?? new Float32Array(n);
  const s = compile(level);
  const chars = packCharacters(opts.characters);
  const basis = cameraBasis(camera);
  const tanV = Math.tan(FOV_Y / 2);
  const tanH = (tanV * width) / height;
  const w = 1 / (S * S);
  for (let py = 0, p = 0; py < height; py++) {
    for (let px = 0; px < width; px++, p++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let cov = 0;
      let nearness = 0;
      let nx = 0;
      let ny = 0;
      let nz = 0;
      for (let sy = 0; sy < S; sy++) {
        for (let sx = 0; sx < S; sx++) {
          primaryRay(basis, tanH, tanV, (px + (sx + 0.5) / S) / width, (py + (sy + 0.5) / S) / height);
          if (!trace(s, camera.x, camera.y, camera.z, RAY[0]!, RAY[1]!, RAY[2]!, chars)) continue;
          cov += 1;
          nearness += Math.exp(-HIT[0]! / near);
          nx += HIT[1]!;
          ny += HIT[2]!;
          nz += HIT[3]!;
          r += HIT[4]!;
          g += HIT[5]!;
          b += HIT[6]!;
        }
      }
      map[p] = r * w;
      map[plane + p] = g * w;
      map[2 * plane + p] = b * w;
      map[3 * plane + p] = cov * w;
      map[4 * plane + p] = nearness * w;
      map[5 * plane + p] = nx * w;
      map[6 * plane + p] = ny * w;
      map[7 * plane + p] = nz * w;
    }
  }
  return map;
}

/**
 * A {@link renderGeometry} map average-pooled by `factor` along each axis: CHW
 * [channels, height, width] → [channels, height / factor, width / factor], each output pixel
 * the mean of its factor × factor input pixels (in float64, stored as float32). Every channel
 * of a map is a mean over its pixel's rays, so the pool of a map drawn with `samples` rays
 * per axis is, up to float32 rounding (~1e-7), the map drawn at the smaller size with
 * `samples × factor` — the very same rays ({@link geometryPoolFactor}).
 */
export function poolGeometry(map: Float32Array, channels: number, width: number, height: number, factor: number, out?: Float32Array): Float32Array {
  for (const [name, v] of [['channels', channels], ['width', width], ['height', height], ['factor', factor]] as const)
    if (!Number.isInteger(v) || v < 1) throw new Error(`poolGeometry: ${name} must be a positive integer, not ${v}`);
  if (width % factor !== 0 || height % factor !== 0) throw new Error(`poolGeometry: a ${width}×${height} map does not pool by ${factor}`);
  if (map.length !== channels * width * height) throw new Error(`poolGeometry: the map holds ${map.length} floats, not ${channels}×${height}×${width}`);
  const w = width / factor;
  const h = height / factor;
  const n = channels * w * h;
  if (out && out.length < n) throw new Error(`out holds ${out.length} floats; ${n} needed`);
  const pooled = out ?? new Float32Array(n);
  const inv = 1 / (factor * factor);
  for (let c = 0, o = 0; c < channels; c++) {
    const plane = c * width * height;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++, o++) {
        let sum = 0;
        for (let dy = 0; dy < factor; dy++) {
          const row = plane + (y * factor + dy) * width + x * factor;
          for (let dx = 0; dx < factor; dx++) sum += map[row + dx]!;
        }
        pooled[o] = sum * inv;
      }
    }
  }
  return pooled;
}

/**
 * The factor by which a map of `fine` (size and sampling) pools into the map of `coarse`
 * with the same rays, or 0 when it does not: the same nearness scale, and per axis
 * coarse size × coarse samples = fine size × fine samples, with the coarse samples a
 * multiple of the fine (then each coarse pixel's rays are exactly its fine pixels' rays).
 */
export function geometryPoolFactor(
  fine: { width: number; height: number; samples?: number; near?: number },
  coarse: { width: number; height: number; samples?: number; near?: number },
): number {
  const fs = fine.samples ?? GEOMETRY_DEFAULTS.samples;
  const cs = coarse.samples ?? GEOMETRY_DEFAULTS.samples;
  if ((fine.near ?? GEOMETRY_DEFAULTS.near) !== (coarse.near ?? GEOMETRY_DEFAULTS.near)) return 0;
  if (!Number.isInteger(fs) || !Number.isInteger(cs) || fs < 1 || cs % fs !== 0) return 0;
  const k = cs / fs;
  return coarse.width * k === fine.width && coarse.height * k === fine.height ? k : 0;
}

/** A camera's forward, right and up vectors (right has no y component). */
interface Basis {
  fx: number;
  fy: number;
  fz: number;
  rx: number;
  rz: number;
  ux: number;
  uy: number;
  uz: number;
}

/** The camera's forward, right and up vectors (physics conventions: yaw 0 looks at -Z; pitch > 0 looks up). */
function cameraBasis(camera: Camera): Basis {
  const cy = Math.cos(camera.yaw);
  const sy = Math.sin(camera.yaw);
  const cp = Math.cos(camera.pitch);
  const sp = Math.sin(camera.pitch);
  return { fx: -sy * cp, fy: sp, fz: -cy * cp, rx: cy, rz: -sy, ux: sy * sp, uy: cp, uz: cy * sp };
}

// The unit direction of the last primaryRay() (a typed array, as HIT, so nothing is allocated per ray).
const RAY = new Float64Array(3);

/** The pinhole ray through image point (u, v) ∈ [0, 1]² (u right, v down), normalized, into RAY. */
function primaryRay(B: Basis, tanH: number, tanV: number, u: number, v: number): void {
  const a = (2 * u - 1) * tanH;
  const b = (1 - 2 * v) * tanV;
  const dx = B.fx + a * B.rx + b * B.ux;
  const dy = B.fy + b * B.uy;
  const dz = B.fz + a * B.rz + b * B.uz;
  const inv = 1 / Math.sqrt(dx * dx + dy * dy + dz * dz);
  RAY[0] = dx * inv;
  RAY[1] = dy * inv;
  RAY[2] = dz * inv;
}

function toByte(v: number): number {
  return v <= 0 ? 0 : v >= 1 ? 255 : (v * 255 + 0.5) | 0;
}

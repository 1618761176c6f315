/**
 * Characters in frames (issue 19): a detector that finds other characters in a frame from its
 * pixels alone (model frames have no labels), and the truth it is measured against — which
 * characters a truth frame shows, where, from the renderer and the characters' capsules.
 *
 * Detector ({@link detectCharacters}): characters are capsules in their own colour
 * (CHARACTER_COLORS), lit like everything else. Under a known lighting preset (the scene's
 * prompt — a description of the scene, not its pixels) a surface of albedo a and normal n shows
 * `f · a ⊙ (ambient · (0.8 + 0.2 n_y) + sun · max(0, n · sunDir)) + (1 − f) · fog`, f ∈ (0, 1] what
 * the fog leaves of it (render.ts's shading). The level's surfaces have their faces' normals
 * (boxes, the floor — its two checker colours and their mixtures —, pillar sides all round),
 * a capsule every normal. A pixel is a character pixel of colour c when c is searched, the
 * nearest of c's colours is within `tolerance` of it, `margin` times nearer than the nearest
 * colour of anything else (the level's surfaces, the sky's gradient and disc, the visor, the
 * other character colours), and that one is at least `separation` away (scaled down by the
 * fog fraction of the fit and for dark colours: in fog and at night everything is close); a
 * fit that leaves less than `minFog` of the character's own colour is the fog's. A character
 * pixel whose colour lies on the blend of two opposite neighbours that are not of its colour
 * (within `blendResidual`) is an edge's blend — a soft edge between two other things, whose
 * mixture can land on any colour — and is dropped. Character
 * pixels of one colour are grouped into 8-connected components, the parts of one character
 * split by its light visor band are merged (same colour, overlapping columns, a small vertical
 * gap, upright together), and a group is a detection when it has ≥ `minPixels` pixels, is upright (≥ 3 px tall
 * and wide, no wider than tall + 2), stands out from the pixels around it (its mean colour
 * differs from that of the ring 2–3 px out, past its edge's blends, by ≥ `minContrast` of
 * their distance from the fog's colour), — given the camera's pitch — stands on the floor
 * across the horizon, and is no more fogged than a character of its size can be (one at least
 * as tall as the group is at most so far away; its median pixel must be within the tolerance of
 * the character's colours fogged that little). These keep a frame's soft edges, and patches of
 * a wall, a crate or the sky a few percent off a character-like colour, from counting: the
 * detector is validated on truth frames blurred, recoloured by ±4% and mottled by ±3%
 * ({@link detectorRobustness}) as well as exact ones. Detections
 * carry colour, box, centre (the centroid of their pixels) and size.
 *
 * Truth ({@link truthCharacters}): for each character, the pixels whose rays (the renderer's
 * 2×2 sub-pixel rays) hit it before anything else — the level through castRay, the other
 * capsules exactly — on at least 2 of 4 rays: its silhouette and box in the frame, occlusion
 * included. It is **visible** when at least {@link VISIBLE_MIN_PIXELS} pixels of that silhouette
 * differ from the frame rendered without characters by at least {@link VISIBLE_CONTRAST} in
 * some channel: a character hidden by a wall, outside the view, a sliver at the frame's edge or
 * faded into the fog is in no one's view.
 *
 * Scoring ({@link matchDetections}): a visible truth character is found when a detection of its
 * colour has its centre inside its box; a detection is false when no character of its colour is
 * in the frame at all (silhouette pixels, visible or not) with its centre inside that one's box.
 * Recall = found / visible; false-detection rate = false / all detections.
 */
import { DEFAULT_BOX_COLOR, DEFAULT_FLOOR_COLORS, type Color, type Level } from '../../world/src/levels/index.js';
import { defaultCharacterParams } from '../../world/src/physics.js';
import {
  CHARACTER_COLORS,
  FOV_Y,
  PROMPTS,
  VISOR_COLOR,
  castRay,
  eyeFromCharacter,
  renderView,
  resolveLighting,
  type Camera,
  type CharacterShape,
  type Lighting,
  type PromptName,
} from '../../world/src/render.js';
import { Rng } from '../../world/src/rng.js';

/** The colours the detector looks for by default: CHARACTER_COLORS 0–2 (the eval episodes' walkers; a room's first three players). */
export const DETECT_COLORS: readonly number[] = [0, 1, 2];
/** Largest distance (RGB in [0, 1]) from a pixel to its character colour's set of lit colours. */
export const DETECT_TOLERANCE = 0.1;
/** A character pixel's colour must be this many times nearer its character's colours than any other material's. */
export const DETECT_MARGIN = 1.5;
/** … and at least this far (RGB in [0, 1]) from every other material's (less for dark colours: at night everything is close). */
export const DETECT_SEPARATION = 0.02;
/** Least fraction of a character's own lit colour the fog must leave in a pixel for it to be a character pixel. */
export const DETECT_MIN_FOG = 0.08;
/** Least distance between a detection's mean colour and its surroundings' (within 2 px), relative to the brighter of them. */
export const DETECT_MIN_CONTRAST = 0.1;
/** A character-coloured pixel this near (RGB in [0, 1]) the blend of two opposite neighbours of other colours is an edge's blend, not a character's (0: off). */
export const DETECT_BLEND_RESIDUAL = 0.04;
/** … when those two neighbours are at least this far apart (an edge, not a flat surface's noise). */
const BLEND_EDGE = 0.1;
/** A ray to a character is at most this many times longer than its depth (the frame's corners are ~45° off axis). */
const FOG_RAY_SLACK = 1.5;
/** Smallest detection (character pixels after merging). */
export const DETECT_MIN_PIXELS = 10;
/** A truth character is visible when at least this many of its pixels … */
export const VISIBLE_MIN_PIXELS = 24;
/** … differ from the frame without characters by at least this much (bytes, in some channel). */
export const VISIBLE_CONTRAST = 24;

/** A pixel box, inclusive: columns x0..x1, rows y0..y1. */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface Detection {
  /** CHARACTER_COLORS index. */
  color: number;
  box: Box;
  /** Centroid of its pixels (pixel centres at integer + 0.5 … here at the integer index: column x is x). */
  cx: number;
  cy: number;
  pixels: number;
}

export interface DetectorOptions {
  /** CHARACTER_COLORS indices to look for (default {@link DETECT_COLORS}). */
  colors?: readonly number[];
  /** The level whose materials compete with the characters' (default: none but the floor's default colours; pass the level rendered). */
  level?: Level;
  tolerance?: number;
  margin?: number;
  separation?: number;
  minFog?: number;
  minPixels?: number;
  minContrast?: number;
  /** The characters' height (m; default: the default capsule's), which bounds how far away, and so how fogged, a detection of some rows can be. */
  characterHeight?: number;
  /** {@link DETECT_BLEND_RESIDUAL}. */
  blendResidual?: number;
  /**
   * The camera's pitch (rad), when known (the pose the model is given): a detection must then
   * stand on the floor, its box reaching from above the horizon (a character's head is above
   * the eye) to below it (its feet). Crates, low walls and the tops of walls are not characters.
   */
  pitch?: number;
}

// ------------------------------------------------------------------ pixel classifier

/** The separation is {@link DETECT_SEPARATION} for colours of this norm (RGB in [0, 1]) and brighter, proportionally less for darker ones, … */
const SEPARATION_BRIGHT = 0.3;
/** … and never under this (about a byte's rounding in each channel). */
const SEPARATION_FLOOR = 0.005;
/** Colour quantization of the classifier's cache: 7 bits per channel (±1 level). */
const Q = 128;
const QS = 256 / Q;

interface Material {
  /** Its lit colours before fog (one per surface orientation it can show), flattened rgb. */
  lit: Float64Array;
  /** The box around its lit colours and the fog's colour (all its fogged colours lie in it): lo rgb, hi rgb. */
  bounds: Float64Array;
  minFog: number;
  /** Label: a searched colour's CHARACTER_COLORS index, or −1. */
  label: number;
}

interface Classifier {
  materials: Material[];
  /** The sky's colours (flattened rgb), a dense sampling of its gradient and disc glow. */
  sky: Float64Array;
  fog: Color;
  tolerance: number;
  margin: number;
  separation: number;
  /** Memo per 7-bit cell: −2 not yet decided, −1 background, −3 decided colour by colour (exact), else the label. */
  memo: Int8Array;
  /** The exactly decided colours (24-bit key). */
  exact: Map<number, number>;
}

const classifiers = new Map<string, Classifier>();
const levelIds = new WeakMap<Level, number>();
let nextLevelId = 1;

/** The renderer's shading of albedo `a` on a surface of normal n: a ⊙ (ambient · (0.8 + 0.2 n_y) + sun · max(0, n · sunDir)). */
function shade(L: Lighting, a: Color, sun: readonly number[], nx: number, ny: number, nz: number, out: number[]): void {
  const lam = Math.max(0, nx * sun[0]! + ny * sun[1]! + nz * sun[2]!);
  const amb = 0.8 + 0.2 * ny;
  for (let ch = 0; ch < 3; ch++) out.push(a[ch]! * (L.ambient[ch]! * amb + L.sunColor[ch]! * lam));
}

/**
 * The lit colours of the level's surfaces: each box face, the floor and the pillars' tops at
 * their one normal, the pillars' sides all round.
 */
function levelMaterials(L: Lighting, sun: readonly number[], level: Level | undefined): Float64Array[] {
  const out: Float64Array[] = [];
  const add = (fill: (lit: number[]) => void): void => {
    const lit: number[] = [];
    fill(lit);
    out.push(Float64Array.from(lit));
  };
  const floor = level ? level.floor && (level.floor.colors ?? DEFAULT_FLOOR_COLORS) : DEFAULT_FLOOR_COLORS;
  // the checker's two colours and their mixtures (tile borders, and far away where the tiles blur)
  if (floor)
    add((lit) => {
      for (let k = 0; k <= 10; k++) shade(L, [0, 1, 2].map((ch) => floor[0][ch]! + (floor[1][ch]! - floor[0][ch]!) * (k / 10)) as Color, sun, 0, 1, 0, lit);
    });
  for (const b of level?.boxes ?? []) {
    const c = b.color ?? DEFAULT_BOX_COLOR;
    const cy = Math.cos(b.yaw ?? 0);
    const sy = Math.sin(b.yaw ?? 0);
    add((lit) => {
      // the box's local x and z axes in the world (render.ts: world = Ry(yaw)·local)
      for (const s of [1, -1]) {
        shade(L, c, sun, s * cy, 0, -s * sy, lit);
        shade(L, c, sun, s * sy, 0, s * cy, lit);
        shade(L, c, sun, 0, s, 0, lit);
      }
    });
  }
  for (const p of level?.pillars ?? []) {
    const c = p.color ?? DEFAULT_BOX_COLOR;
    add((lit) => {
      for (let k = 0; k < 72; k++) shade(L, c, sun, Math.cos((k * Math.PI) / 36), 0, Math.sin((k * Math.PI) / 36), lit);
      shade(L, c, sun, 0, 1, 0, lit);
    });
  }
  return out;
}

/** The lit colours of a capsule of albedo `a`: every normal of the sphere, as the pairs (n_y, n · sunDir) it can take. */
function capsuleLit(L: Lighting, sun: readonly number[], a: Color): Float64Array {
  const sh = Math.hypot(sun[0]!, sun[2]!);
  const lit: number[] = [];
  for (let i = 0; i <= 40; i++) {
    const ny = -1 + i / 20;
    const h = Math.sqrt(Math.max(0, 1 - ny * ny));
    for (let j = 0; j <= 20; j++) {
      // n · sun = ny·sun_y + h·sh·cos φ over the azimuth φ
      const cosPhi = -1 + j / 10;
      const lam = Math.max(0, ny * sun[1]! + h * sh * cosPhi);
      const amb = 0.8 + 0.2 * ny;
      for (let ch = 0; ch < 3; ch++) lit.push(a[ch]! * (L.ambient[ch]! * amb + L.sunColor[ch]! * lam));
    }
  }
  return Float64Array.from(lit);
}

/** A material of lit colours (duplicates dropped) and its bounds with the fog colour. */
function material(lit: ArrayLike<number>, fog: Color, minFog: number, label: number): Material {
  const seen = new Set<string>();
  const kept: number[] = [];
  for (let o = 0; o < lit.length; o += 3) {
    const k = `${lit[o]!.toFixed(6)},${lit[o + 1]!.toFixed(6)},${lit[o + 2]!.toFixed(6)}`;
    if (seen.has(k)) continue;
    seen.add(k);
    kept.push(lit[o]!, lit[o + 1]!, lit[o + 2]!);
  }
  const bounds = Float64Array.from([...fog, ...fog]);
  for (let o = 0; o < kept.length; o += 3)
    for (let ch = 0; ch < 3; ch++) {
      bounds[ch] = Math.min(bounds[ch]!, kept[o + ch]!);
      bounds[3 + ch] = Math.max(bounds[3 + ch]!, kept[o + ch]!);
    }
  return { lit: Float64Array.from(kept), bounds, minFog, label };
}

/** Squared distance from a colour to a material's bounds: a lower bound of its residual. */
function bound2(m: Material, r: number, g: number, b: number): number {
  const B = m.bounds;
  const dr = r < B[0]! ? B[0]! - r : r > B[3]! ? r - B[3]! : 0;
  const dg = g < B[1]! ? B[1]! - g : g > B[4]! ? g - B[4]! : 0;
  const db = b < B[2]! ? B[2]! - b : b > B[5]! ? b - B[5]! : 0;
  return dr * dr + dg * dg + db * db;
}

function classifier(lighting: Lighting | PromptName, opts: DetectorOptions): Classifier {
  const L = resolveLighting(lighting);
  const colors = opts.colors ?? DETECT_COLORS;
  for (const c of colors) if (!Number.isInteger(c) || c < 0 || c >= CHARACTER_COLORS.length) throw new Error(`detector colour ${c} is not a CHARACTER_COLORS index (0..${CHARACTER_COLORS.length - 1})`);
  const tolerance = opts.tolerance ?? DETECT_TOLERANCE;
  const margin = opts.margin ?? DETECT_MARGIN;
  const separation = opts.separation ?? DETECT_SEPARATION;
  const minFog = opts.minFog ?? DETECT_MIN_FOG;
  let lid = 0;
  if (opts.level) {
    lid = levelIds.get(opts.level) ?? 0;
    if (!lid) levelIds.set(opts.level, (lid = nextLevelId++));
  }
  const key = `${typeof lighting === 'string' ? lighting : JSON.stringify(lighting)}|${lid}|${colors.join(',')}|${tolerance}|${margin}|${separation}|${minFog}`;
  let c = classifiers.get(key);
  if (c) return c;
  const l = Math.hypot(...L.sunDir);
  const sun = L.sunDir.map((v) => v / l);
  const materials: Material[] = [
    ...levelMaterials(L, sun, opts.level).map((lit) => material(lit, L.fogColor, 0, -1)),
    material(capsuleLit(L, sun, VISOR_COLOR), L.fogColor, 0, -1),
    ...CHARACTER_COLORS.map((a, i) => material(capsuleLit(L, sun, a), L.fogColor, minFog, colors.includes(i) ? i : -1)),
  ];
  // The sky: its gradient from the horizon to the zenith, each of those blended toward the disc.
  const sky: number[] = [];
  for (let t = 0; t <= 40; t++) {
    const base = [0, 1, 2].map((ch) => L.skyHorizon[ch]! + (L.skyZenith[ch]! - L.skyHorizon[ch]!) * (t / 40));
    for (let w = 0; w <= 20; w++) sky.push(...base.map((v, ch) => v + (L.discColor[ch]! - v) * (w / 20)));
  }
  c = { materials, sky: Float64Array.from(sky), fog: L.fogColor, tolerance, margin, separation, memo: new Int8Array(Q * Q * Q).fill(-2), exact: new Map() };
  classifiers.set(key, c);
  return c;
}

/** The fog fraction u of the last residual2() call's best fit (a scratch, as render.ts's HIT). */
let fitU = 1;

/** Squared distance from colour (r, g, b) to the material's set of lit, fogged colours; the fit's u in fitU. */
function residual2(m: Material, fog: Color, r: number, g: number, b: number): number {
  const [fr, fg, fb] = fog;
  const cr = r - fr;
  const cg = g - fg;
  const cb = b - fb;
  let best = Infinity;
  let bestU = 1;
  const lit = m.lit;
  for (let o = 0; o < lit.length; o += 3) {
    const dr = lit[o]! - fr;
    const dg = lit[o + 1]! - fg;
    const db = lit[o + 2]! - fb;
    const dd = dr * dr + dg * dg + db * db;
    let u = dd > 0 ? (cr * dr + cg * dg + cb * db) / dd : 1;
    if (u > 1) u = 1;
    if (u < m.minFog) u = m.minFog;
    const er = cr - u * dr;
    const eg = cg - u * dg;
    const eb = cb - u * db;
    const e = er * er + eg * eg + eb * eb;
    if (e < best) {
      best = e;
      bestU = u;
    }
  }
  fitU = bestU;
  return best;
}

/** A colour's distances (RGB in [0, 1]) to the nearest searched character colour's set and to the nearest other material's, and that character fit's fog fraction. */
interface Fit {
  label: number;
  dc: number;
  dOther: number;
  u: number;
}

function fit(c: Classifier, r: number, g: number, b: number): Fit {
  let bestChar = Infinity;
  let label = -1;
  let u = 1;
  let bestOther = Infinity;
  // the sky first (a cheap bound for the materials after it)
  const s = c.sky;
  for (let o = 0; o < s.length; o += 3) {
    const e = (r - s[o]!) ** 2 + (g - s[o + 1]!) ** 2 + (b - s[o + 2]!) ** 2;
    if (e < bestOther) bestOther = e;
  }
  for (const m of c.materials) {
    if (bound2(m, r, g, b) >= (m.label >= 0 ? bestChar : bestOther)) continue;
    const e = residual2(m, c.fog, r, g, b);
    if (m.label >= 0) {
      if (e < bestChar) {
        bestChar = e;
        label = m.label;
        u = fitU;
      }
    } else if (e < bestOther) bestOther = e;
  }
  return { label, dc: Math.sqrt(bestChar), dOther: Math.sqrt(bestOther), u };
}

/**
 * The separation a character pixel needs from every other material: {@link DETECT_SEPARATION}
 * scaled down where everything is close together — by the fog fraction u the fit leaves of the
 * character's colour (the fog pulls all materials toward its colour by that factor) and by the
 * colour's brightness below {@link SEPARATION_BRIGHT} (at night) — and never under
 * {@link SEPARATION_FLOOR}.
 */
function separation(c: Classifier, u: number, r: number, g: number, b: number): number {
  return Math.max(SEPARATION_FLOOR, c.separation * u * Math.min(1, Math.hypot(r, g, b) / SEPARATION_BRIGHT));
}

/** A character pixel: its colour's set is near, nearer than anything else's by the margin, and apart from everything else by the separation. */
function decide(c: Classifier, f: Fit, r: number, g: number, b: number): number {
  return f.label >= 0 && f.dc <= c.tolerance && f.dc * c.margin < f.dOther && f.dOther >= separation(c, f.u, r, g, b) ? f.label : -1;
}

/** Half the diagonal of a cache cell (RGB in [0, 1]): how far a colour in it can be from its centre. */
const CELL_RADIUS = (Math.sqrt(3) * QS) / 2 / 255;

/**
 * The classifier's label of a byte colour: a searched CHARACTER_COLORS index or −1. A cell of
 * the 7-bit cache is decided once when the decision holds for every colour in it (the
 * distances move by at most the cell's radius); the colours of the cells on a boundary are
 * decided exactly, one by one.
 */
function classify(c: Classifier, R: number, G: number, B: number): number {
  const qr = Math.floor(R / QS);
  const qg = Math.floor(G / QS);
  const qb = Math.floor(B / QS);
  const q = (qr * Q + qg) * Q + qb;
  let cell = c.memo[q]!;
  if (cell === -2) {
    const r = ((qr + 0.5) * QS) / 255;
    const g = ((qg + 0.5) * QS) / 255;
    const b = ((qb + 0.5) * QS) / 255;
    const f = fit(c, r, g, b);
    const e = CELL_RADIUS;
    const sepHi = separation(c, 1, r + e, g + e, b + e);
    if (f.label < 0 || f.dc - e > c.tolerance || (f.dc - e) * c.margin >= f.dOther + e || f.dOther + e < SEPARATION_FLOOR) cell = -1;
    else if (f.dc + e <= c.tolerance && (f.dc + e) * c.margin < f.dOther - e && f.dOther - e >= sepHi) cell = f.label;
    else cell = -3;
    c.memo[q] = cell;
  }
  if (cell !== -3) return cell;
  const key = (R << 16) | (G << 8) | B;
  let out = c.exact.get(key);
  if (out === undefined) {
    const r = R / 255;
    const g = G / 255;
    const b = B / 255;
    out = decide(c, fit(c, r, g, b), r, g, b);
    c.exact.set(key, out);
  }
  return out;
}

/**
 * Why the detector labels a byte colour as it does (diagnostics): the nearest searched
 * character colour, its distance and fog fraction, the distance to the nearest other material
 * (level, sky, visor, the other character colours), the separation it needed and the label.
 */
export function explainColor(rgb: readonly [number, number, number], lighting: Lighting | PromptName, opts: DetectorOptions = {}): Fit & { separation: number; result: number } {
  const c = classifier(lighting, opts);
  const [r, g, b] = rgb.map((v) => v / 255) as [number, number, number];
  const f = fit(c, r, g, b);
  return { ...f, separation: separation(c, f.u, r, g, b), result: classify(c, rgb[0], rgb[1], rgb[2]) };
}

/**
 * The detector's per-pixel labels of an RGB frame (HWC bytes): the CHARACTER_COLORS index of
 * a searched colour for a character pixel, −1 elsewhere.
 */
export function characterLabels(rgb: ArrayLike<number>, width: number, height: number, lighting: Lighting | PromptName, opts: DetectorOptions = {}): Int8Array {
  if (rgb.length !== width * height * 3) throw new Error(`frame has ${rgb.length} bytes, expected ${width}×${height}×3`);
  const c = classifier(lighting, opts);
  const out = new Int8Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = classify(c, rgb[3 * i]!, rgb[3 * i + 1]!, rgb[3 * i + 2]!);
  return out;
}

/**
 * Characters in an RGB frame (HWC bytes) lit by `lighting` (the frame's prompt), from its
 * pixels alone: one detection per group of character pixels of a searched colour (module
 * comment). Deterministic; a few ms for 128×128 once the colours seen are cached.
 */
export function detectCharacters(rgb: ArrayLike<number>, width: number, height: number, lighting: Lighting | PromptName, opts: DetectorOptions = {}): Detection[] {
  const labels = unblend(rgb, width, height, characterLabels(rgb, width, height, lighting, opts), opts.blendResidual ?? DETECT_BLEND_RESIDUAL);
  const minPixels = opts.minPixels ?? DETECT_MIN_PIXELS;
  // 8-connected components of equal labels
  const comp = new Int32Array(width * height).fill(-1);
  const parts: { color: number; box: Box; sx: number; sy: number; n: number }[] = [];
  const stack: number[] = [];
  for (let start = 0; start < labels.length; start++) {
    const color = labels[start]!;
    if (color < 0 || comp[start]! >= 0) continue;
    const id = parts.length;
    const p = { color, box: { x0: width, y0: height, x1: -1, y1: -1 }, sx: 0, sy: 0, n: 0 };
    parts.push(p);
    comp[start] = id;
    stack.push(start);
    while (stack.length) {
      const i = stack.pop()!;
      const x = i % width;
      const y = (i - x) / width;
      p.n++;
      p.sx += x;
      p.sy += y;
      if (x < p.box.x0) p.box.x0 = x;
      if (x > p.box.x1) p.box.x1 = x;
      if (y < p.box.y0) p.box.y0 = y;
      if (y > p.box.y1) p.box.y1 = y;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const j = yy * width + xx;
          if (comp[j]! < 0 && labels[j] === color) {
            comp[j] = id;
            stack.push(j);
          }
        }
      }
    }
  }
  // a character is upright: at least 3 rows tall, 3 columns wide and no wider than tall (+2 px) (a flat
  // patch is a surface's edge mixed with another: a wall's top against the sky, a crate's side)
  const upright = (b: Box): boolean => b.y1 - b.y0 >= 2 && b.x1 - b.x0 >= 2 && b.x1 - b.x0 <= b.y1 - b.y0 + 2;
  // Merge the parts of one character: same colour, columns overlapping by half the narrower part, a vertical gap of at
  // most max(2, half the narrower width) rows, and together still upright (a character's parts make a character's
  // shape; a capsule next to a wide fringe of its colour, a wall's top against the sky, stays a capsule).
  const groups = parts.map((p, i) => ({ ...p, box: { ...p.box }, parts: [i] }));
  for (let merged = true; merged; ) {
    merged = false;
    for (let a = 0; a < groups.length && !merged; a++)
      for (let b = a + 1; b < groups.length && !merged; b++) {
        const A = groups[a]!;
        const B = groups[b]!;
        if (A.color !== B.color) continue;
        const overlap = Math.min(A.box.x1, B.box.x1) - Math.max(A.box.x0, B.box.x0) + 1;
        const narrow = Math.min(A.box.x1 - A.box.x0, B.box.x1 - B.box.x0) + 1;
        const gap = Math.max(A.box.y0, B.box.y0) - Math.min(A.box.y1, B.box.y1) - 1;
        if (overlap < narrow / 2 || gap > Math.max(2, narrow / 2)) continue;
        const box = { x0: Math.min(A.box.x0, B.box.x0), y0: Math.min(A.box.y0, B.box.y0), x1: Math.max(A.box.x1, B.box.x1), y1: Math.max(A.box.y1, B.box.y1) };
        if (!upright(box)) continue;
        A.box = box;
        A.sx += B.sx;
        A.sy += B.sy;
        A.n += B.n;
        A.parts.push(...B.parts);
        groups.splice(b, 1);
        merged = true;
      }
  }
  // a detection is upright (above), and, given the camera's pitch, it stands on the floor: its feet below the horizon, its top near it
  const h = opts.pitch === undefined ? null : horizonRow(opts.pitch, height);
  const standing = (b: Box): boolean => h === null || (b.y1 > h && b.y0 <= h + STANDING_TOP * (b.y1 - h) + HORIZON_SLACK);
  // and it stands out from what is around it (not a patch of a larger surface of about its colour)
  const minContrast = opts.minContrast ?? DETECT_MIN_CONTRAST;
  const fog = resolveLighting(lighting).fogColor;
  const contrasted = (g: { box: Box; parts: number[] }): boolean => ringContrast(rgb, width, height, comp, g.parts, g.box, fog) >= minContrast;
  // and its colours are a character's fogged no more than a character of its size can be: the fog leaves exp(−density · t)
  // of a colour at distance t, and a character at least as tall as the detection (it may be partly hidden, never
  // taller) is no farther than FOG_RAY_SLACK · characterHeight · focal / rows (the ray's length off axis). The median
  // pixel must be within the tolerance of the character's colours fogged that little.
  const cl = classifier(lighting, opts);
  const density = resolveLighting(lighting).fogDensity;
  const focal = height / 2 / Math.tan(FOV_Y / 2);
  const tall = opts.characterHeight ?? 2 * (defaultCharacterParams.halfHeight + defaultCharacterParams.radius);
  const fogFit = (g: { color: number; box: Box; parts: number[] }): boolean => {
    const farthest = (FOG_RAY_SLACK * tall * focal) / (g.box.y1 - g.box.y0 + 1);
    const own = cl.materials.find((m) => m.label === g.color)!;
    const least = Math.exp(-density * farthest);
    if (least <= own.minFog) return true;
    const near: Material = { ...own, minFog: least };
    const e: number[] = [];
    for (let y = g.box.y0; y <= g.box.y1; y++)
      for (let x = g.box.x0; x <= g.box.x1; x++) {
        const i = y * width + x;
        if (g.parts.includes(comp[i]!)) e.push(residual2(near, cl.fog, rgb[3 * i]! / 255, rgb[3 * i + 1]! / 255, rgb[3 * i + 2]! / 255));
      }
    e.sort((a, b) => a - b);
    return Math.sqrt(e[e.length >> 1]!) <= cl.tolerance;
  };
  return groups
    .filter((g) => g.n >= minPixels && upright(g.box) && standing(g.box) && contrasted(g) && fogFit(g))
    .map((g) => ({ color: g.color, box: g.box, cx: g.sx / g.n, cy: g.sy / g.n, pixels: g.n }));
}

/** Opposite neighbours of a pixel (offsets along a row, a column or a diagonal, at 1 or 2 px, and 1 and 2 px on either side). */
const BLEND_PAIRS: readonly (readonly [number, number, number, number])[] = (() => {
  const out: [number, number, number, number][] = [];
  for (const [dx, dy] of [[1, 0], [0, 1], [1, 1], [1, -1]] as const)
    for (const [a, b] of [[1, 1], [2, 2], [1, 2], [2, 1]] as const) out.push([-a * dx, -a * dy, b * dx, b * dy]);
  return out;
})();

/**
 * Drops the character labels of edge blends: a labelled pixel p whose colour lies on the segment
 * between two pixels on opposite sides of it (a pair of BLEND_PAIRS), within `residual` (RGB in
 * [0, 1]), neither of them of p's label, and those two at least BLEND_EDGE apart. Such a pixel is
 * what a soft edge between two other things makes — a renderer's sub-pixel rays, a decoder's
 * blur — however near its colour happens to come to a character's. A character's own edge is a
 * blend with its own pixels and keeps its label. Returns `labels`, changed in place.
 */
function unblend(rgb: ArrayLike<number>, width: number, height: number, labels: Int8Array, residual: number): Int8Array {
  if (!(residual > 0)) return labels;
  const drop: number[] = [];
  const r2 = residual * residual;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const c = labels[i]!;
      if (c < 0) continue;
      const p0 = rgb[3 * i]! / 255;
      const p1 = rgb[3 * i + 1]! / 255;
      const p2 = rgb[3 * i + 2]! / 255;
      for (const [ax, ay, bx, by] of BLEND_PAIRS) {
        const xa = x + ax, ya = y + ay, xb = x + bx, yb = y + by;
        if (xa < 0 || xa >= width || ya < 0 || ya >= height || xb < 0 || xb >= width || yb < 0 || yb >= height) continue;
        const ia = ya * width + xa;
        const ib = yb * width + xb;
        if (labels[ia] === c || labels[ib] === c) continue;
        const a0 = rgb[3 * ia]! / 255, a1 = rgb[3 * ia + 1]! / 255, a2 = rgb[3 * ia + 2]! / 255;
        const d0 = rgb[3 * ib]! / 255 - a0, d1 = rgb[3 * ib + 1]! / 255 - a1, d2 = rgb[3 * ib + 2]! / 255 - a2;
        const dd = d0 * d0 + d1 * d1 + d2 * d2;
        if (dd < BLEND_EDGE * BLEND_EDGE) continue;
        const t = Math.min(1, Math.max(0, ((p0 - a0) * d0 + (p1 - a1) * d1 + (p2 - a2) * d2) / dd));
        const e0 = a0 + t * d0 - p0, e1 = a1 + t * d1 - p1, e2 = a2 + t * d2 - p2;
        if (e0 * e0 + e1 * e1 + e2 * e2 <= r2) {
          drop.push(i);
          break;
        }
      }
    }
  for (const i of drop) labels[i] = -1;
  return labels;
}

/** The distance from the fog's colour below which {@link ringContrast} is no longer relative to it. */
const CONTRAST_FLOOR = 0.1;
/** Width (px) of the ring around a detection that {@link ringContrast} compares it with, … */
const RING = 2;
/** … beyond the pixels this near it (its edge: blends of it and its surroundings, which are neither). */
const RING_GAP = 1;

/**
 * The distance between the mean colour of a group's pixels and the mean colour of the pixels
 * RING_GAP + 1 to RING_GAP + RING px from them, relative to how far the farther of the two is from
 * the fog's colour (RGB in [0, 1], at least CONTRAST_FLOOR): everything in fog and at night
 * is close to the fog's colour, and a character stands out there as much as in daylight.
 */
function ringContrast(rgb: ArrayLike<number>, width: number, height: number, comp: Int32Array, parts: readonly number[], box: Box, fog: Color): number {
  const inGroup = (i: number): boolean => parts.includes(comp[i]!);
  const R = RING_GAP + RING;
  const x0 = Math.max(0, box.x0 - R);
  const x1 = Math.min(width - 1, box.x1 + R);
  const y0 = Math.max(0, box.y0 - R);
  const y1 = Math.min(height - 1, box.y1 + R);
  const sum = [0, 0, 0, 0, 0, 0];
  let n = 0;
  let m = 0;
  for (let y = y0; y <= y1; y++)
    for (let x = x0; x <= x1; x++) {
      const i = y * width + x;
      if (inGroup(i)) {
        for (let ch = 0; ch < 3; ch++) sum[ch]! += rgb[3 * i + ch]!;
        n++;
        continue;
      }
      // its Chebyshev distance to the group: in the ring when RING_GAP < d ≤ RING_GAP + RING
      let d = R + 1;
      for (let dy = -R; dy <= R; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -R; dx <= R; dx++) {
          const xx = x + dx;
          if (xx >= 0 && xx < width && inGroup(yy * width + xx)) d = Math.min(d, Math.max(Math.abs(dx), Math.abs(dy)));
        }
      }
      if (d <= RING_GAP || d > R) continue;
      for (let ch = 0; ch < 3; ch++) sum[3 + ch]! += rgb[3 * i + ch]!;
      m++;
    }
  if (n === 0 || m === 0) return Infinity;
  const a = [sum[0]! / n / 255, sum[1]! / n / 255, sum[2]! / n / 255];
  const b = [sum[3]! / m / 255, sum[4]! / m / 255, sum[5]! / m / 255];
  const fromFog = (c: number[]): number => Math.hypot(c[0]! - fog[0], c[1]! - fog[1], c[2]! - fog[2]);
  return Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!) / Math.max(CONTRAST_FLOOR, fromFog(a), fromFog(b));
}

/**
 * A standing character seen from the eye (1.6 m) has its feet below the horizon and its top
 * (1.8 m) just above it; the top of what the detector finds of it — its body below the visor
 * when the head is lost against the sky — is at most 0.34 m below the eye, 0.21 of the way
 * from the horizon down to its feet: a detection's top must be within this fraction (of the
 * way from the horizon to its bottom) below the horizon, plus HORIZON_SLACK rows (blur; a
 * viewer 0.25 m up on the step). A crate (1 m: 0.375) or the top of a wall (all above the
 * horizon) is not standing.
 */
const STANDING_TOP = 0.3;
const HORIZON_SLACK = 3;

/**
 * The image row (pixel centres at integer rows) of the horizon — the view direction at zero
 * elevation — of a camera of pitch `pitch` (render.ts's pinhole: pitch > 0 looks up, so the
 * horizon moves down), in a frame `height` rows tall.
 */
export function horizonRow(pitch: number, height: number): number {
  const v = (1 + Math.tan(pitch) / Math.tan(FOV_Y / 2)) / 2;
  return v * height - 0.5;
}

// ------------------------------------------------------------------ truth

/** What a truth frame shows of one character. */
export interface TruthCharacter {
  /** Index into the characters given. */
  index: number;
  /** CHARACTER_COLORS index of its colour (−1 when it is none of them). */
  color: number;
  /** Pixels whose rays hit it first (2 of 4 sub-pixel rays or more): its silhouette in the frame. */
  pixels: number;
  /** Silhouette pixels that differ from the frame without characters by ≥ the contrast. */
  visiblePixels: number;
  /** The silhouette's box (null when it has no pixel). */
  box: Box | null;
  visible: boolean;
}

/** CHARACTER_COLORS index of a colour (exact match), −1 for another. */
export function colorIndex(c: Color): number {
  return CHARACTER_COLORS.findIndex((k) => k[0] === c[0] && k[1] === c[1] && k[2] === c[2]);
}

/** Distance along the unit ray o + t·d to the capsule (Infinity when it misses). */
function capsuleHit(c: CharacterShape, ox: number, oy: number, oz: number, dx: number, dy: number, dz: number): number {
  const r = c.radius;
  const px = ox - c.x;
  const pz = oz - c.z;
  const yLo = c.y + r;
  const yHi = c.y + c.height - r;
  let best = Infinity;
  const a = dx * dx + dz * dz;
  const cc = px * px + pz * pz - r * r;
  if (a > 1e-12) {
    const b = px * dx + pz * dz;
    const disc = b * b - a * cc;
    if (disc < 0) return Infinity; // misses the infinite cylinder: misses the capsule
    // the cylinder between the caps
    const t = (-b - Math.sqrt(disc)) / a;
    const y = oy + t * dy;
    if (t > 1e-6 && y >= yLo && y <= yHi) best = t;
  } else if (cc > 0) return Infinity; // a vertical ray outside the capsule's reach
  // the two hemispheres (spheres at the cylinder's ends; a sphere's hit beyond its half is inside the cylinder)
  for (let k = 0; k < 2; k++) {
    const qy = oy - (k === 0 ? yLo : yHi);
    const b = px * dx + qy * dy + pz * dz;
    const disc = b * b - (cc + qy * qy);
    if (disc < 0) continue;
    const t = -b - Math.sqrt(disc);
    if (t > 1e-6 && t < best) best = t;
  }
  return best;
}

/**
 * Each character's silhouette in a frame: per pixel, the character whose capsule 2 or more of
 * the renderer's 4 sub-pixel rays hit before the level and before the other characters
 * (−1: none). Int16 per pixel. The rays are render.ts's pinhole camera's (yaw 0 looks at −Z,
 * pitch > 0 looks up, vertical field of view FOV_Y).
 */
export function characterIds(level: Level, camera: Camera, characters: readonly CharacterShape[], width: number, height: number): Int16Array {
  const ids = new Int16Array(width * height).fill(-1);
  if (characters.length === 0) return ids;
  const tanV = Math.tan(FOV_Y / 2);
  const tanH = (tanV * width) / height;
  // the camera's forward f, right (rx, 0, rz) and up u vectors
  const cy = Math.cos(camera.yaw);
  const sy = Math.sin(camera.yaw);
  const cp = Math.cos(camera.pitch);
  const sp = Math.sin(camera.pitch);
  const fx = -sy * cp;
  const fy = sp;
  const fz = -cy * cp;
  const rx = cy;
  const rz = -sy;
  const ux = sy * sp;
  const uy = cp;
  const uz = cy * sp;
  const n = characters.length;
  const votes = new Int32Array(n);
  for (let py = 0; py < height; py++)
    for (let px = 0; px < width; px++) {
      votes.fill(0);
      for (let sub = 0; sub < 4; sub++) {
        const a = (2 * ((px + 0.25 + 0.5 * (sub & 1)) / width) - 1) * tanH;
        const b = (1 - 2 * ((py + 0.25 + 0.5 * (sub >> 1)) / height)) * tanV;
        let dx = fx + a * rx + b * ux;
        let dy = fy + b * uy;
        let dz = fz + a * rz + b * uz;
        const inv = 1 / Math.sqrt(dx * dx + dy * dy + dz * dz);
        dx *= inv;
        dy *= inv;
        dz *= inv;
        let best = Infinity;
        let who = -1;
        for (let j = 0; j < n; j++) {
          const t = capsuleHit(characters[j]!, camera.x, camera.y, camera.z, dx, dy, dz);
          if (t < best) {
            best = t;
            who = j;
          }
        }
        if (who >= 0 && castRay(level, camera.x, camera.y, camera.z, dx, dy, dz) > best) votes[who]!++;
      }
      let who = -1;
      for (let j = 0; j < n; j++) if (votes[j]! >= 2 && (who < 0 || votes[j]! > votes[who]!)) who = j;
      ids[py * width + px] = who;
    }
  return ids;
}

/**
 * What a truth frame shows of each character: silhouette, box and whether it is visible
 * (module comment). `frame` is the truth frame rendered with the characters, `background` the
 * same view rendered without any (renderView without characters); both HWC bytes.
 */
export function truthCharacters(
  level: Level,
  camera: Camera,
  characters: readonly CharacterShape[],
  frame: ArrayLike<number>,
  background: ArrayLike<number>,
  width: number,
  height: number,
  opts: { contrast?: number; minPixels?: number; ids?: Int16Array } = {},
): TruthCharacter[] {
  const n = width * height * 3;
  if (frame.length !== n || background.length !== n) throw new Error(`truthCharacters: frames must be ${width}×${height}×3 bytes`);
  const contrast = opts.contrast ?? VISIBLE_CONTRAST;
  const minPixels = opts.minPixels ?? VISIBLE_MIN_PIXELS;
  const ids = opts.ids ?? characterIds(level, camera, characters, width, height);
  const out: TruthCharacter[] = characters.map((c, index) => ({ index, color: colorIndex(c.color), pixels: 0, visiblePixels: 0, box: null, visible: false }));
  for (let i = 0; i < ids.length; i++) {
    const j = ids[i]!;
    if (j < 0) continue;
    const t = out[j]!;
    const x = i % width;
    const y = (i - x) / width;
    t.pixels++;
    if (!t.box) t.box = { x0: x, y0: y, x1: x, y1: y };
    else {
      t.box.x0 = Math.min(t.box.x0, x);
      t.box.x1 = Math.max(t.box.x1, x);
      t.box.y0 = Math.min(t.box.y0, y);
      t.box.y1 = Math.max(t.box.y1, y);
    }
    const d = Math.max(Math.abs(frame[3 * i]! - background[3 * i]!), Math.abs(frame[3 * i + 1]! - background[3 * i + 1]!), Math.abs(frame[3 * i + 2]! - background[3 * i + 2]!));
    if (d >= contrast) t.visiblePixels++;
  }
  for (const t of out) t.visible = t.visiblePixels >= minPixels;
  return out;
}

/**
 * {@link truthCharacters} of a truth frame, rendering the view without characters only when
 * one of them has pixels in it (otherwise nothing of them shows and none is visible).
 */
export function viewTruth(
  level: Level,
  camera: Camera,
  characters: readonly CharacterShape[],
  frame: ArrayLike<number>,
  lighting: Lighting | PromptName,
  width: number,
  height: number,
): TruthCharacter[] {
  if (characters.length === 0) return [];
  const ids = characterIds(level, camera, characters, width, height);
  const background = ids.some((v) => v >= 0) ? renderView(level, camera, lighting, width, height) : frame;
  return truthCharacters(level, camera, characters, frame, background, width, height, { ids });
}

// ------------------------------------------------------------------ scoring

const inside = (b: Box, x: number, y: number): boolean => x >= b.x0 - 0.5 && x <= b.x1 + 0.5 && y >= b.y0 - 0.5 && y <= b.y1 + 0.5;

/** One frame's detections scored against its truth characters (module comment). */
export interface FrameMatch {
  /** Visible truth characters (indices into the truth list) and which of them were found. */
  visible: number[];
  found: number[];
  detections: number;
  /** Detections with no character of their colour in the frame whose box holds their centre. */
  falseDetections: number;
}

export function matchDetections(truth: readonly TruthCharacter[], detections: readonly Detection[]): FrameMatch {
  const visible = truth.filter((t) => t.visible).map((t) => t.index);
  const found = truth.filter((t) => t.visible && detections.some((d) => d.color === t.color && inside(t.box!, d.cx, d.cy))).map((t) => t.index);
  const falseDetections = detections.filter((d) => !truth.some((t) => t.box && t.color === d.color && inside(t.box, d.cx, d.cy))).length;
  return { visible, found, detections: detections.length, falseDetections };
}

// ------------------------------------------------------------------ validation on truth frames

/** The detector's figures on truth frames of one prompt (or all). */
export interface DetectorScore {
  /** Frames with characters, visible characters in them and those found. */
  frames: number;
  visible: number;
  found: number;
  recall: number | null;
  detections: number;
  falseDetections: number;
  /** false / all detections on the frames with characters. */
  falseRate: number | null;
  /** The same views rendered without characters: frames and detections in them (all false). */
  emptyFrames: number;
  emptyDetections: number;
}

/** Adds up frames' matches into a {@link DetectorScore}. */
export class DetectorTally {
  frames = 0;
  visible = 0;
  found = 0;
  detections = 0;
  falseDetections = 0;
  emptyFrames = 0;
  emptyDetections = 0;
  /** A frame with characters: its match. */
  add(m: FrameMatch): void {
    this.frames++;
    this.visible += m.visible.length;
    this.found += m.found.length;
    this.detections += m.detections;
    this.falseDetections += m.falseDetections;
  }
  /** A frame without characters: its detections. */
  addEmpty(detections: number): void {
    this.emptyFrames++;
    this.emptyDetections += detections;
  }
  score(): DetectorScore {
    return {
      frames: this.frames,
      visible: this.visible,
      found: this.found,
      recall: this.visible ? this.found / this.visible : null,
      detections: this.detections,
      falseDetections: this.falseDetections,
      falseRate: this.detections ? this.falseDetections / this.detections : null,
      emptyFrames: this.emptyFrames,
      emptyDetections: this.emptyDetections,
    };
  }
}

/**
 * The detector on truth frames of seeded random scenes of `level`: a camera near each spawn
 * point in turn (its yaw ± 1 rad, pitch ± 0.3 rad), three characters (colours 0–2, the
 * default capsule) 1.5–11 m ahead within ± 0.6 rad of the view, each scene rendered under
 * every prompt with and without them. Per prompt: recall of the visible characters, false
 * detections, and detections on the character-free renders of the same views.
 */
export function detectorValidation(
  level: Level,
  opts: {
    scenes: number;
    seed?: number;
    size?: number;
    prompts?: readonly PromptName[];
    character?: { radius: number; height: number };
    detector?: DetectorOptions;
    /** Change the truth frames (both renders of a scene) so before detecting: {@link perturbFrame}. */
    perturb?: Perturbation;
  },
): Record<string, DetectorScore> {
  const size = opts.size ?? 128;
  const prompts = opts.prompts ?? PROMPTS;
  const rng = new Rng(opts.seed ?? 7, 1);
  const { radius, height } = opts.character ?? { radius: defaultCharacterParams.radius, height: 2 * (defaultCharacterParams.halfHeight + defaultCharacterParams.radius) };
  const tallies = new Map<string, DetectorTally>(prompts.map((p) => [p, new DetectorTally()]));
  for (let s = 0; s < opts.scenes; s++) {
    const sp = level.spawns[s % level.spawns.length]!;
    const yaw = (sp.yaw ?? 0) + rng.range(-1, 1);
    const pose = { x: sp.position[0] + rng.range(-1, 1), y: sp.position[1], z: sp.position[2] + rng.range(-1, 1), yaw, pitch: rng.range(-0.3, 0.3) };
    const cam = eyeFromCharacter(pose);
    const chars: CharacterShape[] = DETECT_COLORS.map((ci) => {
      const d = rng.range(1.5, 11);
      const a = yaw + rng.range(-0.6, 0.6);
      return { x: pose.x - Math.sin(a) * d, y: level.floor?.y ?? 0, z: pose.z - Math.cos(a) * d, yaw: rng.range(-Math.PI, Math.PI), radius, height, color: CHARACTER_COLORS[ci]! };
    });
    for (const [pi, p] of prompts.entries()) {
      const t = tallies.get(p)!;
      const frame = renderView(level, cam, p, size, size, undefined, chars);
      const empty = renderView(level, cam, p, size, size);
      const truth = truthCharacters(level, cam, chars, frame, empty, size, size);
      const o = { level, pitch: pose.pitch, ...opts.detector };
      const seen = (f: Uint8Array): Uint8Array => (opts.perturb ? perturbFrame(f, size, size, opts.perturb, s * prompts.length + pi) : f);
      t.add(matchDetections(truth, detectCharacters(seen(frame), size, size, p, o)));
      t.addEmpty(detectCharacters(seen(empty), size, size, p, o).length);
    }
  }
  const out: Record<string, DetectorScore> = {};
  const all = new DetectorTally();
  for (const [p, t] of tallies) {
    out[p] = t.score();
    for (const k of ['frames', 'visible', 'found', 'detections', 'falseDetections', 'emptyFrames', 'emptyDetections'] as const) all[k] += t[k];
  }
  out.all = all.score();
  return out;
}

// ------------------------------------------------------------------ robustness

/**
 * What another renderer than the truth's does to a frame, in kind and about in size: soft edges
 * (a Gaussian blur of σ 0.5 or 0.8 px), a colour off by 4% (all channels ×0.96 or ×1.04), and a
 * flat surface's colour wandering by up to ±3% per channel over ~8 px (smooth multiplicative
 * noise). The detector must keep its recall and its false detections on truth frames so changed
 * ({@link detectorRobustness}): a model's frames are never exact, and what it finds in them
 * should be characters, not the instrument's sensitivity to a byte.
 */
export const PERTURBATIONS = ['exact', 'blur 0.5 px', 'blur 0.8 px', 'colour ×0.96', 'colour ×1.04', 'mottle ±3%'] as const;
export type Perturbation = (typeof PERTURBATIONS)[number];

/** A truth frame (HWC bytes) changed by perturbation `p` (deterministic from `seed`; a new array). */
export function perturbFrame(rgb: ArrayLike<number>, width: number, height: number, p: Perturbation, seed = 0): Uint8Array {
  switch (p) {
    case 'exact':
      return Uint8Array.from(rgb);
    case 'blur 0.5 px':
      return gaussianBlur(rgb, width, height, 0.5);
    case 'blur 0.8 px':
      return gaussianBlur(rgb, width, height, 0.8);
    case 'colour ×0.96':
      return Uint8Array.from(rgb, (v) => Math.round(v * 0.96));
    case 'colour ×1.04':
      return Uint8Array.from(rgb, (v) => Math.min(255, Math.round(v * 1.04)));
    case 'mottle ±3%':
      return mottle(rgb, width, height, 0.03, MOTTLE_CELL, seed);
  }
}

/** Cell (px) of {@link mottle}'s noise grid. */
const MOTTLE_CELL = 8;

function gaussianBlur(rgb: ArrayLike<number>, width: number, height: number, sigma: number): Uint8Array {
  const r = Math.ceil(3 * sigma);
  const w = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const z = w.reduce((a, b) => a + b, 0);
  const tmp = new Float64Array(width * height * 3);
  const out = new Uint8Array(width * height * 3);
  const clamp = (v: number, n: number): number => (v < 0 ? 0 : v >= n ? n - 1 : v);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let ch = 0; ch < 3; ch++) {
        let a = 0;
        for (let i = -r; i <= r; i++) a += w[i + r]! * rgb[(y * width + clamp(x + i, width)) * 3 + ch]!;
        tmp[(y * width + x) * 3 + ch] = a / z;
      }
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let ch = 0; ch < 3; ch++) {
        let a = 0;
        for (let i = -r; i <= r; i++) a += w[i + r]! * tmp[(clamp(y + i, height) * width + x) * 3 + ch]!;
        out[(y * width + x) * 3 + ch] = Math.round(a / z);
      }
  return out;
}

/** Each channel times 1 + a smooth noise in [−amp, amp]: bilinear between uniform values on a grid of `cell` px. */
function mottle(rgb: ArrayLike<number>, width: number, height: number, amp: number, cell: number, seed: number): Uint8Array {
  const gw = Math.ceil(width / cell) + 1;
  const gh = Math.ceil(height / cell) + 1;
  const rng = new Rng(seed, 3);
  const grid = Float64Array.from({ length: gw * gh * 3 }, () => 1 + rng.range(-amp, amp));
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const gx = x / cell;
      const gy = y / cell;
      const x0 = Math.floor(gx);
      const y0 = Math.floor(gy);
      const tx = gx - x0;
      const ty = gy - y0;
      for (let ch = 0; ch < 3; ch++) {
        const v = (i: number, j: number): number => grid[(j * gw + i) * 3 + ch]!;
        const k = (1 - tx) * (1 - ty) * v(x0, y0) + tx * (1 - ty) * v(x0 + 1, y0) + (1 - tx) * ty * v(x0, y0 + 1) + tx * ty * v(x0 + 1, y0 + 1);
        out[(y * width + x) * 3 + ch] = Math.min(255, Math.round(rgb[(y * width + x) * 3 + ch]! * k));
      }
    }
  return out;
}

/** {@link detectorValidation} on the same seeded scenes, once per perturbation: its figures over all prompts, by perturbation. */
export function detectorRobustness(
  level: Level,
  opts: { scenes: number; seed?: number; size?: number; perturbations?: readonly Perturbation[]; detector?: DetectorOptions },
): Record<Perturbation, Record<string, DetectorScore>> {
  const out = {} as Record<Perturbation, Record<string, DetectorScore>>;
  for (const p of opts.perturbations ?? PERTURBATIONS) out[p] = detectorValidation(level, { ...opts, perturb: p });
  return out;
}

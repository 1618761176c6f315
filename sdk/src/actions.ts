/**
 * Actions: what players press and move, encoded as the per-frame vectors a model's
 * action module takes. The action space comes from the model's config.json: named
 * keyboard keys (0 or 1 each) followed by mouse axes (a value in [min, max] each), then,
 * for models that take it, the character's pose as features ({@link poseFeatures}). Models
 * that take the level's geometry in view ({@link GeometrySpec}) get it as an input of its
 * own, one map per frame, [channels, F, H, W] per block ({@link encodeGeometry}).
 */
import { ArgumentError } from './errors.js';

/** One keyboard key or mouse axis of a model's action space. */
export interface ActionAxis {
  /** Axis name, as {@link ActionInput.mouse} keys it. */
  name: string;
  /** Smallest value the axis accepts (default -1). */
  min: number;
  /** Largest value the axis accepts (default 1). */
  max: number;
}

/**
 * How a model takes the character's pose (config.json `action.pose`): where the player
 * stands and looks, known to a game server from its physics, as extra action channels.
 */
export interface PoseSpec {
  /** Horizontal scale (m): x and z are divided by it (e.g. the level's half size). */
  extent: number;
  /** Vertical scale (m): y is divided by it. */
  height: number;
  /** Frequencies f of the sin/cos(pi f x/extent), sin/cos(pi f z/extent) features. */
  frequencies: number[];
}

/**
 * How a model takes the level's geometry in view (config.json `action.geometry`): per
 * latent frame a map of `channels` × the latent height × width, concatenated to the DiT's
 * input channels. A game server computes it from its level and the camera (the game
 * server's `renderGeometry`, sampled with `samples`² rays per pixel and nearness
 * exp(−d / near)). It is its own input of a step (`step({actions, geometry})`), entering the
 * DiT as condition channels after the latents, never part of the action rows.
 */
export interface GeometrySpec {
  /** Channels of the map per latent pixel (the game server's renderGeometry draws 8). */
  channels: number;
  /** Rays per map pixel along each axis (samples² per pixel). */
  samples: number;
  /** Distance scale (m) of the nearness channel exp(−d / near). */
  near: number;
}

/**
 * The geometry map a model's video decoder takes with each frame (a decoder config's
 * `geometry`, see DecoderGeometry): `channels` × `height` × `width` floats per frame (CHW),
 * the frame size over the decoder's scale at the model's (or session's) latent size, drawn
 * by the world with `samples` × `samples` rays a map pixel and nearness exp(−d / `near`).
 * The decoder's plain convolutions read it; the DiT never sees it (that is {@link GeometrySpec}).
 */
export interface FrameGeometrySpec {
  /** Channels of the map. */
  channels: number;
  /** Map columns (frame width / the decoder's geometry scale). */
  width: number;
  /** Map rows (frame height / the decoder's geometry scale). */
  height: number;
  /** Rays per map pixel along each axis. */
  samples: number;
  /** Distance scale of the nearness channel exp(−d / near). */
  near: number;
}

/** A latent frame size (a session's layout has one). */
export interface LatentSize {
  /** Latent rows. */
  height: number;
  /** Latent columns. */
  width: number;
}

/** A character's pose, as the game server's physics has it. */
export interface Pose {
  /** Foot position, x (m). */
  x: number;
  /** Foot position, y (m, up). */
  y: number;
  /** Foot position, z (m). */
  z: number;
  /** Heading (rad; 0 faces −Z, grows to the left). */
  yaw: number;
  /** View pitch (rad; > 0 looks up). */
  pitch: number;
}

/** The model's action space, from config.json. The per-frame vector is [keys..., mouse axes..., pose features...]. */
export interface ActionSpace {
  /**
   * How actions condition the model: 'additive' (an action embedding added to each latent
   * frame's time embedding) or 'matrix_game' (Matrix-Game 2.0's action module: actions per
   * VIDEO frame, keyboard cross-attention and mouse temporal self-attention over a window).
   */
  mode: string;
  /** matrix_game: video frames per latent frame (a block takes 1 + r(F-1) rows first, then rF; or one row for all). */
  video_frames_per_latent?: number;
  /** matrix_game: video frames of actions each latent frame sees (the window before it). */
  window_video_frames?: number;
  /** matrix_game: the layers that carry the action module. */
  blocks?: number[];
  /** matrix_game: latent frames the action caches' attention window spans. */
  local_attn_size?: number;
  /** Key names, in the order of their slots in the vector (each 0 or 1). */
  keys: string[];
  /** Mouse axes, in the order of their slots after the keys. */
  mouse: ActionAxis[];
  /** Present when the model also takes the character's pose (its features follow the mouse axes). */
  pose?: PoseSpec;
  /** Present when the model also takes the level's geometry in view (a map per frame, its own input; see {@link encodeGeometry}). */
  geometry?: GeometrySpec;
  /**
   * Present when the model's video decoder takes a geometry map with each frame (see
   * {@link FrameGeometrySpec}, {@link ActionInput.frameGeometry}): then every decoded frame
   * needs its map. Set by the SDK from the decoder (`model.actionSpace`, `session.actionSpace`),
   * not by config.json.
   */
  frameGeometry?: FrameGeometrySpec;
}

/** The input of one frame: keys held (names, or a name → pressed map) and mouse axis values. */
export interface ActionInput {
  /** Keys held: an iterable of key names, or a name → pressed map; keys not named are released. */
  keys?: Iterable<string> | Record<string, boolean>;
  /** Mouse axis values by axis name, each within the axis's [min, max]; axes not named are 0. */
  mouse?: Record<string, number>;
  /**
   * The character's pose at the end of the frame, for models whose space has `pose`
   * (an error for others). Absent: the pose features are all zero, which a model trained
   * with pose dropout reads as "unknown".
   */
  pose?: Pose;
  /**
   * The level's geometry in view at the end of the frame, for models whose space has
   * `geometry` (an error for others): `channels` × latent height × width floats (CHW).
   * Absent: all zero, which a model trained with geometry dropout reads as "unknown".
   */
  geometry?: Float32Array;
  /**
   * The geometry map of the frame for the model's video decoder, for models whose space has
   * `frameGeometry` (an error for others): `channels` × `height` × `width` floats (CHW) of
   * that spec, all finite. Required for every frame a step decodes (a step that would
   * decode a frame without one is refused before it runs); ignored with `decode: false`.
   */
  frameGeometry?: Float32Array;
}

/** Number of pose features a spec gives (0 without one). */
export function poseWidth(spec: PoseSpec | undefined): number {
  return spec ? 7 + 4 * spec.frequencies.length : 0;
}

/**
 * A pose's features, written at `out[offset..]`: 1 (present), x/extent, y/height,
 * z/extent, sin yaw, cos yaw, pitch, then for each frequency f: sin(pi f x/extent),
 * cos(pi f x/extent), sin(pi f z/extent), cos(pi f z/extent) — as
 * tools/reference/wan_causal.py pose_features (float64 math, stored as float32).
 */
export function poseFeatures(spec: PoseSpec, pose: Pose, out: Float32Array, offset = 0): void {
  const u = pose.x / spec.extent;
  const w = pose.z / spec.extent;
  out[offset] = 1;
  out[offset + 1] = u;
  out[offset + 2] = pose.y / spec.height;
  out[offset + 3] = w;
  out[offset + 4] = Math.sin(pose.yaw);
  out[offset + 5] = Math.cos(pose.yaw);
  out[offset + 6] = pose.pitch;
  let o = offset + 7;
  for (const f of spec.frequencies) {
    out[o++] = Math.sin(Math.PI * f * u);
    out[o++] = Math.cos(Math.PI * f * u);
    out[o++] = Math.sin(Math.PI * f * w);
    out[o++] = Math.cos(Math.PI * f * w);
  }
}

/** Length of one frame's action row (keys, mouse axes, pose features): what the action module embeds. */
export function actionSize(space: ActionSpace): number {
  return space.keys.length + space.mouse.length + poseWidth(space.pose);
}

/** Floats of one frame's geometry map at the latent size (0 for a model that takes none). */
export function geometrySize(space: ActionSpace, latent: LatentSize): number {
  return space.geometry ? space.geometry.channels * latent.height * latent.width : 0;
}

function encodeOne(input: ActionInput, space: ActionSpace, out: Float32Array, offset: number, where: string): void {
  if (input === null || typeof input !== 'object') throw new ArgumentError(`${where}: an action must be an object {keys, mouse}`, 'ARGUMENT');
  const known = space.keys;
  const pressed: string[] = [];
  if (input.keys !== undefined) {
    if (typeof (input.keys as Iterable<string>)[Symbol.iterator] === 'function' && typeof input.keys !== 'string') {
      for (const k of input.keys as Iterable<string>) pressed.push(k);
    } else if (typeof input.keys === 'object') {
      for (const [k, v] of Object.entries(input.keys)) {
        if (typeof v !== 'boolean') throw new ArgumentError(`${where}: key "${k}" must be true or false`, 'ARGUMENT');
        if (v) pressed.push(k);
      }
    } else {
      throw new ArgumentError(`${where}: keys must be a list of key names or a {name: boolean} map`, 'ARGUMENT');
    }
  }
  for (const k of pressed) {
    if (typeof k !== 'string') throw new ArgumentError(`${where}: key names must be strings`, 'ARGUMENT');
    const i = known.indexOf(k);
    if (i < 0) throw new ArgumentError(`${where}: unknown key "${k}"; this model's keys are ${known.join(', ') || '(none)'}`, 'ARGUMENT');
    out[offset + i] = 1;
  }
  if (input.mouse !== undefined) {
    if (input.mouse === null || typeof input.mouse !== 'object') throw new ArgumentError(`${where}: mouse must be a {axis: value} map`, 'ARGUMENT');
    for (const [name, value] of Object.entries(input.mouse)) {
      const j = space.mouse.findIndex((a) => a.name === name);
      if (j < 0)
        throw new ArgumentError(`${where}: unknown mouse axis "${name}"; this model's axes are ${space.mouse.map((a) => a.name).join(', ') || '(none)'}`, 'ARGUMENT');
      const ax = space.mouse[j]!;
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new ArgumentError(`${where}: mouse axis "${name}" must be a finite number, not ${String(value)}`, 'ARGUMENT');
      if (value < ax.min || value > ax.max) throw new ArgumentError(`${where}: mouse axis "${name}" = ${value} is outside [${ax.min}, ${ax.max}]`, 'ARGUMENT');
      out[offset + known.length + j] = value;
    }
  }
  if (input.pose !== undefined) {
    if (!space.pose) throw new ArgumentError(`${where}: this model takes no pose (its action space has no "pose")`, 'ARGUMENT');
    const p = input.pose;
    if (p === null || typeof p !== 'object') throw new ArgumentError(`${where}: pose must be an object {x, y, z, yaw, pitch}`, 'ARGUMENT');
    for (const k of ['x', 'y', 'z', 'yaw', 'pitch'] as const)
      if (typeof p[k] !== 'number' || !Number.isFinite(p[k])) throw new ArgumentError(`${where}: pose.${k} must be a finite number, not ${String(p[k])}`, 'ARGUMENT');
    poseFeatures(space.pose, p, out, offset + known.length + space.mouse.length);
  }
  if (input.geometry !== undefined && !space.geometry)
    throw new ArgumentError(`${where}: this model takes no geometry (its action space has no "geometry")`, 'ARGUMENT');
  if (input.frameGeometry !== undefined && !space.frameGeometry)
    throw new ArgumentError(`${where}: this model's decoder takes no geometry map (its action space has no "frameGeometry")`, 'ARGUMENT');
}

/**
 * Encode actions into [frames × actionSize] floats (keys, mouse axes, pose features). One
 * input applies to every frame; an array gives one input per frame (its length must equal
 * `frames`). A frame's `geometry` map is not part of the rows: {@link encodeGeometry}.
 * Unknown keys or axes, non-finite or out-of-range values throw an {@link ArgumentError}.
 */
export function encodeActions(input: ActionInput | readonly ActionInput[], space: ActionSpace, frames: number): Float32Array {
  if (!Number.isInteger(frames) || frames < 1) throw new ArgumentError('frames must be a positive integer', 'ARGUMENT');
  const n = actionSize(space);
  const out = new Float32Array(frames * n);
  if (Array.isArray(input)) {
    if (input.length !== frames) throw new ArgumentError(`got actions for ${input.length} frames; a block has ${frames}`, 'ARGUMENT');
    input.forEach((a, f) => encodeOne(a, space, out, f * n, `frame ${f}`));
  } else {
    encodeOne(input as ActionInput, space, out, 0, 'action');
    for (let f = 1; f < frames; f++) out.copyWithin(f * n, 0, n);
  }
  return out;
}

/**
 * The geometry maps of a block's inputs as the engine takes them: [channels, frames, H, W]
 * (a frame without a map is all zero), or undefined when no input has one. One input
 * applies to every frame, an array gives one per frame. Sizes are checked here; the values
 * (NaN, infinity) once, by the engine.
 */
export function encodeGeometry(input: ActionInput | readonly ActionInput[], space: ActionSpace, frames: number, latent: LatentSize): Float32Array | undefined {
  const inputs: readonly ActionInput[] = Array.isArray(input) ? input : new Array<ActionInput>(frames).fill(input as ActionInput);
  if (!inputs.some((a) => a?.geometry !== undefined)) return undefined;
  const g = space.geometry;
  if (!g) throw new ArgumentError('this model takes no geometry (its action space has no "geometry")', 'ARGUMENT');
  if (inputs.length !== frames) throw new ArgumentError(`got actions for ${inputs.length} frames; a block has ${frames}`, 'ARGUMENT');
  const plane = latent.height * latent.width;
  const want = g.channels * plane;
  const out = new Float32Array(g.channels * frames * plane);
  inputs.forEach((a, f) => {
    const m = a?.geometry;
    if (m === undefined) return;
    if (!(m instanceof Float32Array) || m.length !== want)
      throw new ArgumentError(
        `frame ${f}: geometry must be a Float32Array of ${g.channels}x${latent.height}x${latent.width} = ${want} floats (channels x latent height x width), not ${m instanceof Float32Array ? m.length : typeof m}`,
        'ARGUMENT',
      );
    for (let c = 0; c < g.channels; c++) out.set(m.subarray(c * plane, (c + 1) * plane), (c * frames + f) * plane);
  });
  return out;
}

/** Floats of one frame's decoder geometry map (0 for a model whose decoder takes none). */
export function frameGeometrySize(space: ActionSpace): number {
  const g = space.frameGeometry;
  return g ? g.channels * g.height * g.width : 0;
}

/** `m` as one frame's decoder map of `spec` (a Float32Array of exactly its size, all finite), copied into `out` at `offset`. */
function putFrameMap(m: unknown, spec: FrameGeometrySpec, out: Float32Array, offset: number, where: string): void {
  const want = spec.channels * spec.height * spec.width;
  if (!(m instanceof Float32Array) || m.length !== want)
    throw new ArgumentError(
      `${where}: frameGeometry must be a Float32Array of ${spec.channels}x${spec.height}x${spec.width} = ${want} floats (channels x map height x width), not ${m instanceof Float32Array ? m.length : typeof m}`,
      'ARGUMENT',
    );
  for (let i = 0; i < want; i++)
    if (!Number.isFinite(m[i]!)) throw new ArgumentError(`${where}: frameGeometry[${i}] is ${m[i]}, not a finite number`, 'ARGUMENT');
  out.set(m, offset);
}

/**
 * The decoder geometry maps of a block's inputs, frame-major: [frames × channels × height ×
 * width] (what a geometry decoder takes for those frames), or undefined when no input has
 * one. One input applies to every frame, an array gives one per frame; when some frames
 * have a map every frame must. Sizes and values (finite) are checked here, and the maps
 * copied (a caller changing its arrays later changes nothing).
 */
export function encodeFrameGeometry(input: ActionInput | readonly ActionInput[], space: ActionSpace, frames: number): Float32Array | undefined {
  const inputs: readonly ActionInput[] = Array.isArray(input) ? input : new Array<ActionInput>(frames).fill(input as ActionInput);
  if (!inputs.some((a) => a !== null && typeof a === 'object' && a.frameGeometry !== undefined)) return undefined;
  const g = space.frameGeometry;
  if (!g) throw new ArgumentError('this model\'s decoder takes no geometry map (its action space has no "frameGeometry")', 'ARGUMENT');
  if (inputs.length !== frames) throw new ArgumentError(`got actions for ${inputs.length} frames; a block has ${frames}`, 'ARGUMENT');
  const n = frameGeometrySize(space);
  const out = new Float32Array(frames * n);
  inputs.forEach((a, f) => {
    const m = a?.frameGeometry;
    if (m === undefined) throw new ArgumentError(`frame ${f}: no frameGeometry (the other frames of the block have one; every frame needs its map)`, 'ARGUMENT');
    putFrameMap(m, g, out, f * n, `frame ${f}`);
  });
  return out;
}

/**
 * Decoder geometry maps given as one array for `frames` frames ([frames × channels ×
 * height × width], frame-major): checked (size, finite values) and copied.
 */
export function checkFrameGeometry(maps: unknown, space: ActionSpace | null, frames: number, what = 'frameGeometry'): Float32Array {
  const g = space?.frameGeometry;
  if (!g) throw new ArgumentError(`${what}: this model's decoder takes no geometry map`, 'ARGUMENT');
  const n = g.channels * g.height * g.width;
  if (!(maps instanceof Float32Array) || maps.length !== frames * n)
    throw new ArgumentError(
      `${what} must be a Float32Array of ${frames} frames x ${g.channels}x${g.height}x${g.width} = ${frames * n} floats (frame-major), not ${maps instanceof Float32Array ? maps.length : typeof maps}`,
      'ARGUMENT',
    );
  const out = new Float32Array(maps.length);
  for (let f = 0; f < frames; f++) putFrameMap(maps.subarray(f * n, (f + 1) * n), g, out, f * n, `${what} frame ${f}`);
  return out;
}

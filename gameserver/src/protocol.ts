/**
 * The wire protocol between a WorldRoom and its clients, besides Colyseus' own state sync.
 *
 * Client → server (Colyseus messages, msgpack; every one is validated, see {@link validateInput}):
 * - `input`  `{seq, keys, dx, dy}`: `seq` uint32 (increasing), `keys` a bitmask of held keys
 *   ({@link KEY_BITS}: w=1, a=2, s=4, d=8, space=16), `dx`/`dy` look deltas in radians since
 *   the previous input (dx > 0 turns right, dy > 0 looks down), |dx|, |dy| <= {@link MAX_LOOK_PER_INPUT}.
 * - `prompt` `{text}`: change the world's prompt (1..maxPromptChars characters).
 * - `stats`  (no payload): the server answers with a `stats` message.
 * - `restart` (no payload): a fresh world after the player's session ended.
 *
 * Join option `{spectate: sessionId}`: join as a spectator of that player (of the same room):
 * no world of one's own, the same frame envelopes as the player, input dropped (still
 * validated), prompt and restart refused; an unknown player refuses the join (4404).
 *
 * Server → client:
 * - `frame` (bytes, {@link encodeEnvelope}): one video frame with its header.
 * - `welcome`, `prompt` (acknowledgement), `error`, `session_ended`, `stats`: msgpack objects.
 * - `spectate_ended` `{target, view, reason: 'left', message}`: to a spectator whose player
 *   left; it is detached (no more frames) and may leave or join again.
 */
import { Packr, Unpackr } from 'msgpackr';

import { describeValue } from '../../sdk/src/describe.js';
import { ALL_KEYS_MASK } from '../../world/src/keys.js';

export { describeValue };

/** Bits of the `keys` field of an input message: the world's key mask. */
export { ALL_KEYS_MASK, KEY_BITS, type KeyName } from '../../world/src/keys.js';
/** Largest look delta (radians, per axis) one input message may carry. */
export const MAX_LOOK_PER_INPUT = Math.PI / 2;

/** Close codes the room uses besides Colyseus' own (4000-4010). */
export const CLOSE = {
  /** Sent invalid messages too often. */
  POLICY_VIOLATION: 4400,
  /** The player's world session failed and the player asked to leave on it (not used by default). */
  SESSION_ENDED: 4501,
} as const;

/** A client's input message after validation. */
export interface InputMessage {
  seq: number;
  keys: number;
  dx: number;
  dy: number;
}

/** A prompt change after validation. */
export interface PromptMessage {
  text: string;
}

export type Validation<T> = { ok: true; value: T } | { ok: false; error: string };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[]): string | null {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) return k;
  return null;
}

/** Validate an `input` message: exact fields, types and ranges. */
export function validateInput(msg: unknown, maxLook = MAX_LOOK_PER_INPUT): Validation<InputMessage> {
  if (!isPlainObject(msg)) return { ok: false, error: 'input must be an object {seq, keys, dx, dy}' };
  const extra = onlyKeys(msg, ['seq', 'keys', 'dx', 'dy']);
  if (extra !== null) return { ok: false, error: `input has an unknown field ${describeValue(extra)}` };
  const { seq, keys, dx = 0, dy = 0 } = msg;
  if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0 || seq > 0xffffffff) return { ok: false, error: 'input.seq must be an integer in [0, 2^32)' };
  if (typeof keys !== 'number' || !Number.isInteger(keys) || keys < 0 || keys > ALL_KEYS_MASK) return { ok: false, error: `input.keys must be an integer bitmask in [0, ${ALL_KEYS_MASK}]` };
  for (const [name, v] of [['dx', dx], ['dy', dy]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > maxLook) return { ok: false, error: `input.${name} must be a finite number in [-${maxLook.toFixed(4)}, ${maxLook.toFixed(4)}]` };
  }
  return { ok: true, value: { seq, keys, dx: dx as number, dy: dy as number } };
}

/**
 * Characters no client text may carry: controls (C0, DEL, C1: `\p{Cc}`), format characters
 * (bidi overrides and isolates, zero-width joiners, BOM: `\p{Cf}`), lone surrogates
 * (`\p{Cs}`) and the line and paragraph separators U+2028/U+2029.
 */
const UNSAFE_TEXT = /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/u;

/**
 * Validate client text that other clients will see (a prompt in shared room state): a
 * string of 1..maxChars characters (after trimming) with none of {@link UNSAFE_TEXT}.
 */
export function validateText(v: unknown, maxChars: number, field: string): Validation<string> {
  if (typeof v !== 'string') return { ok: false, error: `${field} must be a string` };
  if (v.length > 4 * maxChars + 64) return { ok: false, error: `${field} must have 1..${maxChars} characters` };
  // checked before trimming: trim() would quietly take U+2028/9 and U+FEFF off the ends
  const bad = UNSAFE_TEXT.exec(v);
  const t = v.trim();
  if (!bad && (t.length === 0 || t.length > maxChars)) return { ok: false, error: `${field} must have 1..${maxChars} characters` };
  if (bad) return { ok: false, error: `${field} must not contain control, format or separator characters (found U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} at ${bad.index})` };
  return { ok: true, value: t };
}

/** Validate a `prompt` message. */
export function validatePrompt(msg: unknown, maxChars: number): Validation<PromptMessage> {
  if (!isPlainObject(msg)) return { ok: false, error: 'prompt must be an object {text}' };
  const extra = onlyKeys(msg, ['text']);
  if (extra !== null) return { ok: false, error: `prompt has an unknown field ${describeValue(extra)}` };
  const t = validateText(msg.text, maxChars, 'prompt.text');
  return t.ok ? { ok: true, value: { text: t.value } } : t;
}

/** Join options a client may pass (`joinOrCreate(name, options)`), after validation. */
export interface JoinOptions {
  /** Join as a spectator of this player (a session id of the same room). */
  spectate?: string;
  /** The auth token, when not sent as the Bearer header. */
  token?: string;
}

/** Colyseus session ids: short base62-ish strings. */
const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Validate a client's join options: known fields only, each of its type and shape. */
export function validateJoinOptions(options: unknown): Validation<JoinOptions> {
  if (options === undefined || options === null) return { ok: true, value: {} };
  if (!isPlainObject(options)) return { ok: false, error: 'join options must be an object {spectate?, token?}' };
  const extra = onlyKeys(options, ['spectate', 'token']);
  if (extra !== null) return { ok: false, error: `join options have an unknown field ${describeValue(extra)}` };
  const out: JoinOptions = {};
  if (options.spectate !== undefined) {
    if (typeof options.spectate !== 'string' || !SESSION_ID.test(options.spectate)) return { ok: false, error: 'join option spectate must be a player\'s session id (1..64 of A-Z a-z 0-9 _ -)' };
    out.spectate = options.spectate;
  }
  if (options.token !== undefined) {
    if (typeof options.token !== 'string' || options.token.length > 4096) return { ok: false, error: 'join option token must be a string of at most 4096 characters' };
    out.token = options.token;
  }
  return { ok: true, value: out };
}


/** A message that takes no payload (`stats`, `restart`). */
export function validateEmpty(msg: unknown, type: string): Validation<null> {
  if (msg === undefined || msg === null || (isPlainObject(msg) && Object.keys(msg).length === 0)) return { ok: true, value: null };
  return { ok: false, error: `${type} takes no payload` };
}

/** Server timestamps of a frame (milliseconds, `performance.timeOrigin + performance.now()`). */
export interface FrameTimes {
  /** Block submitted to the engine. */
  submitted: number;
  /** Latents in hand. */
  stepped: number;
  /** This frame decoded to RGB and encoded (a block's frames are decoded one latent frame at a time). */
  decoded: number;
  /** Handed to the socket. */
  sent: number;
}

/** The header of one frame envelope. */
export interface FrameHeader {
  /** The world view (session) the frame belongs to. */
  view: string;
  /** Block number within the view (0, 1, ...). */
  block: number;
  /** Frame index within the block. */
  frame: number;
  /** Frames the block produced. */
  frames: number;
  /** Sequence number of the frame within the view (gaps = frames dropped for this client). */
  seq: number;
  /** Absolute latent frame index of the block's first latent frame. */
  latentFrame: number;
  width: number;
  height: number;
  /** Codec of the payload: 'raw' (RGB, row-major) or 'jpeg', or a custom codec's name. */
  codec: string;
  /** Newest input seq of the driving player that the block's conditioning includes (-1: none). */
  input: number;
  /** Prompt version the block was generated with. */
  prompt: number;
  /** Server tick at which the block was submitted. */
  tick: number;
  times: FrameTimes;
  /** Frames dropped for this client so far (backpressure). */
  dropped: number;
  /**
   * Debug only (the room's `frameActions` option): the block's action vectors, [frames ×
   * action vector] floats without the geometry maps, at most 256 (only on frame 0).
   */
  actions?: number[];
}

export const ENVELOPE_MAGIC = 0x57; // 'W'
export const ENVELOPE_VERSION = 1;
const PREFIX = 8;
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

/**
 * A frame envelope: 8-byte prefix (u8 magic 'W', u8 version, u16 reserved, u32 LE header
 * length), the msgpack header ({@link FrameHeader}), then the encoded frame.
 */
export function encodeEnvelope(header: FrameHeader, payload: Uint8Array): Buffer {
  const h = packr.pack(header);
  const out = Buffer.allocUnsafe(PREFIX + h.length + payload.length);
  out[0] = ENVELOPE_MAGIC;
  out[1] = ENVELOPE_VERSION;
  out.writeUInt16LE(0, 2);
  out.writeUInt32LE(h.length, 4);
  h.copy(out, PREFIX);
  out.set(payload, PREFIX + h.length);
  return out;
}

/** Split an envelope into its header and payload (a view, not a copy). */
export function decodeEnvelope(bytes: Uint8Array): { header: FrameHeader; payload: Uint8Array } {
  if (bytes.length < PREFIX || bytes[0] !== ENVELOPE_MAGIC) throw new Error('not a worldcast frame envelope');
  if (bytes[1] !== ENVELOPE_VERSION) throw new Error(`unsupported envelope version ${bytes[1]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(4, true);
  if (PREFIX + n > bytes.length) throw new Error('truncated envelope header');
  const header: unknown = unpackr.unpack(bytes.subarray(PREFIX, PREFIX + n));
  if (!isPlainObject(header)) throw new Error(`envelope header is ${describeValue(header)}, not a map`);
  const bad = nonPlain(header, 0);
  if (bad) throw new Error(`envelope header holds ${bad}: headers are plain data (maps, arrays, strings, numbers, booleans, nil)`);
  return { header: header as unknown as FrameHeader, payload: bytes.subarray(PREFIX + n) };
}

/**
 * What in a decoded header is not plain data, or null: msgpack extension values (a
 * timestamp decodes to a Date, an invalid one too), binary blobs, nesting deeper than a
 * header has.
 */
function nonPlain(v: unknown, depth: number): string | null {
  if (v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return null;
  if (depth >= 8) return 'nesting deeper than 8';
  if (Array.isArray(v)) {
    for (const x of v) {
      const b = nonPlain(x, depth + 1);
      if (b) return b;
    }
    return null;
  }
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v)) {
      const b = nonPlain(x, depth + 1);
      if (b) return b;
    }
    return null;
  }
  return describeValue(v);
}

/** Hi-resolution wall-clock milliseconds. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

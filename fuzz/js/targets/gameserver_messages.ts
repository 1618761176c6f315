/**
 * Client messages as the game server receives them: a Colyseus ROOM_DATA frame (after its
 * code byte) decoded the way @colyseus/core's RoomMessages.onData decodes it (the type with
 * @colyseus/schema's decode, the payload with msgpackr's unpack), then the validator the
 * room's guarded dispatch applies to that type (gameserver/src/protocol.ts); the type
 * `join` stands for the options of joinOrCreate (validateJoinOptions).
 * Oracles: decoding and validating never throw; a refusal's error is a short string with
 * no unsafe characters (it goes back to the client and into logs); an accepted value is
 * exactly what the validator promises (fields, types, ranges; a prompt's text has no
 * control, format or surrogate code points nor U+2028/9: issue 17).
 */
import { decode } from '@colyseus/schema';
import { pack, unpack } from 'msgpackr';

import { ALL_KEYS_MASK, MAX_LOOK_PER_INPUT, validateEmpty, validateInput, validateJoinOptions, validatePrompt } from '../../../gameserver/src/protocol.js';
import { Finding, HOSTILE_VALUES, msgpackTreeMutator, type Harness } from '../engine.js';

const MAX_PROMPT = 200; // the room's default maxPromptChars
const UNSAFE_TEXT = /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/u;

/** @colyseus/schema logs every invalid UTF-8 type name with console.error: not while fuzzing. */
function quiet<T>(f: () => T): T {
  const err = console.error;
  console.error = () => undefined;
  try {
    return f();
  } finally {
    console.error = err;
  }
}

function check(cond: boolean, what: string, value: unknown): void {
  if (!cond) throw new Finding(`${what}: ${safeJson(value)}`);
}
function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x))?.slice(0, 300) ?? String(typeof v);
  } catch {
    return `<${typeof v}>`;
  }
}

const TYPES = ['input', 'prompt', 'stats', 'restart', 'join', '*', ''];
const KINDS = ['input', 'prompt', 'stats', 'restart', 'join'] as const;
const tree = msgpackTreeMutator(['seq', 'keys', 'dx', 'dy', 'text', 'spectate', 'token', 'toString', '__proto__'], [...HOSTILE_VALUES, 'a meadow', ' a ', 31, 32, 1.5707963, 1.5707964]);

export const harness: Harness = {
  name: 'gameserver_messages',
  // the payload's value tree (and sometimes the type) mutated as values, not bytes
  mutate(data, rng) {
    const buffer = Buffer.concat([Buffer.from([13]), data]);
    const it = { offset: 1 };
    try {
      if (decode.stringCheck(buffer, it)) quiet(() => decode.string(buffer, it));
      else return null;
    } catch {
      return null;
    }
    if (!Number.isInteger(it.offset) || it.offset > buffer.length) return null;
    let head = data.subarray(0, it.offset - 1);
    if (rng.below(8) === 0) {
      const t = Buffer.from(TYPES[rng.below(TYPES.length)]!);
      head = Buffer.concat([Buffer.from([0xa0 | t.length]), t]);
    }
    const body = tree(data.subarray(it.offset - 1), rng);
    return body ? Buffer.concat([head, body]) : null;
  },
  coverage: ['gameserver/src/protocol.ts'],
  dict: [
    ...['input', 'prompt', 'stats', 'restart', 'seq', 'keys', 'dx', 'dy', 'text', '__proto__', 'toString', 'constructor', 'valueOf'].map((s) => pack(s)),
    pack({ seq: 1, keys: 3, dx: 0.1, dy: -0.1 }),
    pack({ text: 'a' }),
    pack(NaN), pack(Infinity), pack(-0), pack(2 ** 32), pack(-1), pack(1.5), pack(1n << 63n),
    ...['\u0085', '\u009b', '\u202e', '\u2028', '\u2029', '\u200b', '\ufeff', '\u0000', ' ', '\t'].map((c) => Buffer.from(c)),
    Buffer.from([0xed, 0xa0, 0x80]), // a lone surrogate in (invalid) UTF-8
  ],
  fuzz(data: Buffer): void {
    const buffer = Buffer.concat([Buffer.from([13]), data]); // Protocol.ROOM_DATA
    const it = { offset: 1 };
    // As RoomMessages.onData: outside its try (a throw here would escape the socket handler).
    const type: unknown = quiet(() => (decode.stringCheck(buffer, it) ? decode.string(buffer, it) : decode.number(buffer, it)));
    let msg: unknown;
    try {
      msg = buffer.byteLength > it.offset ? unpack(buffer.subarray(it.offset)) : undefined;
    } catch {
      return; // Colyseus closes the client on an undecodable payload
    }
    const kind = KINDS.find((k) => k === type) ?? KINDS[data.length % KINDS.length]!;
    const refusal = (error: unknown) =>
      check(typeof error === 'string' && error.length <= 200 && !UNSAFE_TEXT.test(error), `${kind} refusal is a short string of safe characters`, error);
    if (kind === 'join') {
      const r = validateJoinOptions(msg);
      if (!r.ok) return refusal(r.error);
      check(Object.keys(r.value).every((k) => k === 'spectate' || k === 'token'), 'join options have only known fields', r.value);
      check(r.value.spectate === undefined || /^[A-Za-z0-9_-]{1,64}$/.test(r.value.spectate), 'join spectate is a session id', r.value);
      check(r.value.token === undefined || (typeof r.value.token === 'string' && r.value.token.length <= 4096), 'join token is a bounded string', r.value);
    } else if (kind === 'input') {
      const r = validateInput(msg);
      if (!r.ok) return refusal(r.error);
      const v = r.value;
      check(Object.keys(v).sort().join() === 'dx,dy,keys,seq', 'input has exactly its fields', v);
      check(Number.isInteger(v.seq) && v.seq >= 0 && v.seq <= 0xffffffff, 'input.seq in range', v);
      check(Number.isInteger(v.keys) && v.keys >= 0 && v.keys <= ALL_KEYS_MASK, 'input.keys in range', v);
      for (const x of [v.dx, v.dy]) check(typeof x === 'number' && Number.isFinite(x) && Math.abs(x) <= MAX_LOOK_PER_INPUT, 'input.dx/dy finite and bounded', v);
    } else if (kind === 'prompt') {
      const r = validatePrompt(msg, MAX_PROMPT);
      if (!r.ok) return refusal(r.error);
      const t = r.value.text;
      check(typeof t === 'string' && t.length >= 1 && t.length <= MAX_PROMPT, 'prompt.text length', r.value);
      check(t === t.trim(), 'prompt.text trimmed', r.value);
      check(!UNSAFE_TEXT.test(t), 'prompt.text has no control/format/surrogate code points or U+2028/9', [...t].map((c) => c.codePointAt(0)!.toString(16)));
    } else {
      const r = validateEmpty(msg, kind);
      if (!r.ok) return refusal(r.error);
      check(msg === undefined || msg === null || (typeof msg === 'object' && Object.keys(msg as object).length === 0), `${kind} accepted only an empty payload`, msg);
    }
  },
};

/** Seed frames (after the code byte) as a Colyseus client sends them. */
export function seeds(): Buffer[] {
  const frame = (type: string, payload?: unknown) =>
    Buffer.concat([Buffer.from([0xa0 | type.length]), Buffer.from(type), payload === undefined ? Buffer.alloc(0) : pack(payload)]);
  return [
    frame('input', { seq: 0, keys: 1, dx: 0, dy: 0 }),
    frame('input', { seq: 4294967295, keys: 31, dx: 1.5, dy: -1.5 }),
    frame('input', { seq: 7, keys: 0 }),
    frame('prompt', { text: 'a sunny meadow' }),
    frame('prompt', { text: '  dusk  ' }),
    frame('stats'),
    frame('stats', {}),
    frame('restart', null),
    frame('*', { toString: 1 }),
    frame('join', { spectate: 'abc_123', token: 't0k3n' }),
    frame('join', { spectate: { toString: 1 } }),
  ];
}

/**
 * Frame envelopes (gameserver/src/protocol.ts): decodeEnvelope on arbitrary bytes, and
 * encodeEnvelope → decodeEnvelope on every header that decodes.
 * Oracles: a bad envelope is an Error (never another thrown value, never a hang); the
 * payload view lies inside the bytes; a header re-encodes and decodes to the same value.
 */
import { isDeepStrictEqual } from 'node:util';

import { pack } from 'msgpackr';

import { ENVELOPE_MAGIC, ENVELOPE_VERSION, decodeEnvelope, encodeEnvelope, type FrameHeader } from '../../../gameserver/src/protocol.js';
import { Finding, HOSTILE_VALUES, msgpackTreeMutator, type Harness } from '../engine.js';

const header: FrameHeader = {
  view: 'v1', block: 3, frame: 1, frames: 12, seq: 40, latentFrame: 9, width: 64, height: 48, codec: 'jpeg', input: 17, prompt: 2, tick: 901,
  times: { submitted: 1.5, stepped: 2.5, decoded: 3.5, sent: 4.5 }, dropped: 0, actions: [0, 1, 0.25],
};

const tree = msgpackTreeMutator([...Object.keys(header), ...Object.keys(header.times)], [...HOSTILE_VALUES, header.times, 'raw', 'jpeg']);

export const harness: Harness = {
  name: 'envelope',
  // the msgpack header mutated as a value tree, the prefix's length kept right (mostly)
  mutate(data, rng) {
    if (data.length < 8) return null;
    const n = data.readUInt32LE(4);
    if (8 + n > data.length) return null;
    const h = tree(data.subarray(8, 8 + n), rng);
    if (!h) return null;
    const prefix = Buffer.from(data.subarray(0, 8));
    prefix.writeUInt32LE(rng.below(16) === 0 ? rng.u32() : h.length, 4);
    return Buffer.concat([prefix, h, data.subarray(8 + n)]);
  },
  coverage: ['gameserver/src/protocol.ts', 'node_modules/msgpackr/'],
  dict: [...Object.keys(header), ...Object.keys(header.times), 'raw', '__proto__'].map((s) => pack(s)),
  fuzz(data: Buffer): void {
    let out: { header: FrameHeader; payload: Uint8Array };
    try {
      out = decodeEnvelope(data);
    } catch (e) {
      if (!(e instanceof Error)) throw new Finding(`decodeEnvelope threw a non-Error: ${String(typeof e)}`);
      return;
    }
    const p = out.payload;
    if (p.buffer !== data.buffer || p.byteOffset < data.byteOffset || p.byteOffset + p.byteLength !== data.byteOffset + data.byteLength)
      throw new Finding('the payload is not the tail of the envelope');
    const again = decodeEnvelope(encodeEnvelope(out.header, p));
    if (!isDeepStrictEqual(again.header, out.header)) throw new Finding('a decoded header does not survive encode → decode');
    if (Buffer.compare(Buffer.from(again.payload), Buffer.from(p)) !== 0) throw new Finding('the payload does not survive encode → decode');
  },
};

export function seeds(): Buffer[] {
  return [
    encodeEnvelope(header, new Uint8Array([1, 2, 3])),
    encodeEnvelope({ ...header, actions: undefined, codec: 'raw' }, new Uint8Array(0)),
    Buffer.from([ENVELOPE_MAGIC, ENVELOPE_VERSION, 0, 0, 1, 0, 0, 0, 0xc0]),
  ];
}

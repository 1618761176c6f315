// The game server's binary frame envelope (gameserver/src/protocol.ts), read in the browser:
// u8 'W' (0x57) | u8 version 1 | u16 0 | u32 LE header length | msgpack header | payload.
import { Unpackr } from 'msgpackr';

export interface FrameTimes {
  submitted: number;
  stepped: number;
  decoded: number;
  sent: number;
}

export interface FrameHeader {
  view: string;
  block: number;
  frame: number;
  frames: number;
  seq: number;
  latentFrame: number;
  width: number;
  height: number;
  codec: string;
  input: number;
  prompt: number;
  tick: number;
  times: FrameTimes;
  dropped: number;
  actions?: number[];
}

const unpackr = new Unpackr({ useRecords: false });

export function decodeEnvelope(bytes: Uint8Array): { header: FrameHeader; payload: Uint8Array } {
  if (bytes.length < 8 || bytes[0] !== 0x57) throw new Error('not a worldcast frame envelope');
  if (bytes[1] !== 1) throw new Error(`unsupported envelope version ${bytes[1]}`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  if (8 + n > bytes.length) throw new Error('truncated envelope header');
  const header = unpackr.unpack(bytes.subarray(8, 8 + n)) as FrameHeader;
  return { header, payload: bytes.subarray(8 + n) };
}

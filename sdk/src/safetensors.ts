/**
 * Pure TypeScript safetensors reading and writing (F32/F16/BF16), for tools, tests and
 * benchmarks that build or inspect checkpoints. The engine has its own C++ reader.
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** A dtype this module reads and writes. */
export type FloatDType = 'F32' | 'F16' | 'BF16';

/** One tensor: shape plus f32 values (converted from the stored dtype on read). */
export interface Tensor {
  /** Dimensions, outermost first. */
  shape: number[];
  /** Values in row-major order (the product of `shape` of them). */
  data: Float32Array;
}

function f32ToBf16(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

function bf16ToF32(h: number): number {
  return new Float32Array(new Uint32Array([h << 16]).buffer)[0]!;
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function f32ToF16(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00;
  if (a >= 0x477ff000) return sign | 0x7c00;
  if (a < 0x38800000) return sign | Math.round(Math.abs(f[0]!) * 2 ** 24);
  return sign | (((a + 0xfff + ((a >>> 13) & 1) - (112 << 23)) >>> 13) & 0xffff);
}

const sizes: Record<FloatDType, number> = { F32: 4, F16: 2, BF16: 2 };

/** Serialise tensors (in the given order) to safetensors bytes. */
export function encodeSafetensors(
  tensors: Record<string, Tensor>,
  dtype: FloatDType = 'F32',
  metadata?: Record<string, string>,
): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header['__metadata__'] = metadata;
  let offset = 0;
  const names = Object.keys(tensors);
  for (const name of names) {
    const t = tensors[name]!;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`tensor ${name}: shape [${t.shape}] needs ${n} values, has ${t.data.length}`);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + n * sizes[dtype]] };
    offset += n * sizes[dtype];
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += ' ';
  const hbytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + hbytes.length + offset);
  out.writeBigUInt64LE(BigInt(hbytes.length), 0);
  hbytes.copy(out, 8);
  let p = 8 + hbytes.length;
  for (const name of names) {
    const d = tensors[name]!.data;
    if (dtype === 'F32') {
      Buffer.from(d.buffer, d.byteOffset, d.byteLength).copy(out, p);
      p += d.byteLength;
    } else {
      const conv = dtype === 'BF16' ? f32ToBf16 : f32ToF16;
      for (let i = 0; i < d.length; i++, p += 2) out.writeUInt16LE(conv(d[i]!), p);
    }
  }
  return out;
}

/** Parse safetensors bytes into f32 tensors (throws on a malformed file). */
export function decodeSafetensors(buf: Uint8Array): {
  /** The tensors by name. */
  tensors: Map<string, Tensor>;
  /** The header's `__metadata__` entry ({} when absent). */
  metadata: Record<string, string>;
} {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 8) throw new Error('safetensors: file too small');
  const hlen = Number(b.readBigUInt64LE(0));
  if (hlen > b.length - 8) throw new Error('safetensors: header runs past the end');
  const header = JSON.parse(b.subarray(8, 8 + hlen).toString('utf8')) as Record<string, unknown>;
  const base = 8 + hlen;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const [s, en] = e.data_offsets;
    const n = e.shape.reduce((a, c) => a * c, 1);
    const data = new Float32Array(n);
    const raw = b.subarray(base + s, base + en);
    if (e.dtype === 'F32') {
      for (let i = 0; i < n; i++) data[i] = raw.readFloatLE(i * 4);
    } else if (e.dtype === 'BF16') {
      for (let i = 0; i < n; i++) data[i] = bf16ToF32(raw.readUInt16LE(i * 2));
    } else if (e.dtype === 'F16') {
      for (let i = 0; i < n; i++) data[i] = f16ToF32(raw.readUInt16LE(i * 2));
    } else {
      throw new Error(`safetensors: tensor ${name} has unsupported dtype ${e.dtype}`);
    }
    tensors.set(name, { shape: e.shape, data });
  }
  return { tensors, metadata };
}

/** Read a .safetensors file. */
export function readSafetensors(path: string): {
  /** The tensors by name. */
  tensors: Map<string, Tensor>;
  /** The header's `__metadata__` entry ({} when absent). */
  metadata: Record<string, string>;
} {
  return decodeSafetensors(readFileSync(path));
}

/** Write a .safetensors file. */
export function writeSafetensors(path: string, tensors: Record<string, Tensor>, dtype: FloatDType = 'F32'): void {
  writeFileSync(path, encodeSafetensors(tensors, dtype));
}

/**
 * Random checkpoints of the Wan causal DiT family for benchmarks: a config.json and a
 * model.safetensors with upstream tensor names, weights ~ N(0, 1/fan_in)-ish.
 * writeRandomModel builds the file in memory (small models); writeRandomModelStreaming
 * writes it tensor by tensor (the 1.3B-parameter shapes of `npm run bench -- wan`), each
 * tensor from its own seed so the first L layers of an N-layer model equal an L-layer one.
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import { encodeSafetensors, type Tensor } from '../sdk/src/safetensors.js';

export interface BenchConfig {
  dim: number;
  ffn_dim: number;
  num_heads: number;
  num_layers: number;
  in_dim: number;
  out_dim: number;
  text_dim: number;
  text_len: number;
  latent_height: number;
  latent_width: number;
  action?: { keys: string[]; mouse: { name: string; min: number; max: number }[] };
  /** Attention window in latent frames (default -1: global). */
  local_attn_size?: number;
  /** Sink frames of the window (default 0). */
  sink_size?: number;
}

/** One tensor of a random checkpoint: values offset + U(-1, 1)·scale. */
export interface TensorSpec {
  name: string;
  shape: number[];
  scale: number;
  offset: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

/** The checkpoint's tensors (upstream names and shapes) in file order. */
export function tensorSpecs(c: BenchConfig): TensorSpec[] {
  const out: TensorSpec[] = [];
  const fill = (name: string, shape: number[], scale: number, offset = 0) => out.push({ name, shape, scale, offset });
  const linear = (name: string, o: number, inp: number) => {
    fill(`${name}.weight`, [o, inp], Math.sqrt(3 / inp));
    fill(`${name}.bias`, [o], 0.02);
  };
  const d = c.dim;
  fill('patch_embedding.weight', [d, c.in_dim, 1, 2, 2], Math.sqrt(3 / (c.in_dim * 4)));
  fill('patch_embedding.bias', [d], 0.02);
  linear('text_embedding.0', d, c.text_dim);
  linear('text_embedding.2', d, d);
  linear('time_embedding.0', d, 256);
  linear('time_embedding.2', d, d);
  linear('time_projection.1', 6 * d, d);
  const nAct = c.action ? c.action.keys.length + c.action.mouse.length : 0;
  if (nAct) {
    linear('action_embedding.0', d, nAct);
    linear('action_embedding.2', d, d);
  }
  for (let i = 0; i < c.num_layers; i++) {
    const b = `blocks.${i}`;
    for (const a of ['self_attn', 'cross_attn']) {
      for (const l of ['q', 'k', 'v', 'o']) linear(`${b}.${a}.${l}`, d, d);
      fill(`${b}.${a}.norm_q.weight`, [d], 0.1, 1);
      fill(`${b}.${a}.norm_k.weight`, [d], 0.1, 1);
    }
    fill(`${b}.norm3.weight`, [d], 0.1, 1);
    fill(`${b}.norm3.bias`, [d], 0.02);
    linear(`${b}.ffn.0`, c.ffn_dim, d);
    linear(`${b}.ffn.2`, d, c.ffn_dim);
    fill(`${b}.modulation`, [1, 6, d], 1 / Math.sqrt(d));
  }
  linear('head.head', c.out_dim * 4, d);
  fill('head.modulation', [1, 2, d], 1 / Math.sqrt(d));
  return out;
}

/** config.json of a random checkpoint: upstream constructor arguments plus Self Forcing's loop. */
export function randomModelConfig(c: BenchConfig): Record<string, unknown> {
  return {
    _class_name: 'CausalWanModel',
    model_type: 't2v',
    patch_size: [1, 2, 2],
    text_len: c.text_len,
    in_dim: c.in_dim,
    dim: c.dim,
    ffn_dim: c.ffn_dim,
    freq_dim: 256,
    text_dim: c.text_dim,
    out_dim: c.out_dim,
    num_heads: c.num_heads,
    num_layers: c.num_layers,
    window_size: [-1, -1],
    qk_norm: true,
    cross_attn_norm: true,
    eps: 1e-6,
    num_frame_per_block: 3,
    local_attn_size: c.local_attn_size ?? -1,
    sink_size: c.sink_size ?? 0,
    denoising_step_list: [1000, 750, 500, 250],
    warp_denoising_step: true,
    timestep_shift: 5.0,
    num_train_timesteps: 1000,
    context_noise: 0,
    latent_height: c.latent_height,
    latent_width: c.latent_width,
    action: c.action ? { mode: 'additive', ...c.action } : null,
    decoder: null,
  };
}

export function writeRandomModel(dir: string, c: BenchConfig, seed = 1): void {
  mkdirSync(dir, { recursive: true });
  const r = rng(seed);
  const t: Record<string, Tensor> = {};
  for (const s of tensorSpecs(c)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = s.offset + r() * s.scale;
    t[s.name] = { shape: s.shape, data };
  }
  writeFileSync(join(dir, 'config.json'), JSON.stringify(randomModelConfig(c), null, 2));
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(t));
}

function writeAll(fd: number, b: Uint8Array): void {
  for (let p = 0; p < b.length; ) p += writeSync(fd, b, p, b.length - p);
}

/** FNV-1a of a tensor name, mixed with the seed: each tensor's own stream. */
function tensorSeed(name: string, seed: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Write a random checkpoint tensor by tensor (memory: one tensor at a time), in BF16
 * (default: half the file; the engine and the reference widen it to f32 at load) or F32.
 * Returns the bytes written.
 */
export function writeRandomModelStreaming(dir: string, c: BenchConfig, opts: { seed?: number; dtype?: 'BF16' | 'F32' } = {}): number {
  const seed = opts.seed ?? 1;
  const dtype = opts.dtype ?? 'BF16';
  const size = dtype === 'BF16' ? 2 : 4;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(randomModelConfig(c), null, 2));
  const specs = tensorSpecs(c);
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    header[s.name] = { dtype, shape: s.shape, data_offsets: [offset, offset + n * size] };
    offset += n * size;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += ' ';
  const fd = openSync(join(dir, 'model.safetensors'), 'w');
  try {
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
    writeAll(fd, head);
    writeAll(fd, Buffer.from(json, 'utf8'));
    for (const s of specs) {
      const n = s.shape.reduce((a, b) => a * b, 1);
      const r = rng(tensorSeed(s.name, seed));
      const f = new Float32Array(n);
      for (let i = 0; i < n; i++) f[i] = s.offset + r() * s.scale;
      if (dtype === 'F32') {
        writeAll(fd, new Uint8Array(f.buffer));
      } else {
        const u = new Uint32Array(f.buffer);
        const h = new Uint16Array(n);
        for (let i = 0; i < n; i++) {
          const x = u[i]!;
          h[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16; // round to nearest even (no NaNs here)
        }
        writeAll(fd, new Uint8Array(h.buffer));
      }
    }
  } finally {
    closeSync(fd);
  }
  return 8 + Buffer.byteLength(json) + offset;
}

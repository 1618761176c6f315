/**
 * Random checkpoints of the Wan causal DiT family for benchmarks: a config.json and a
 * model.safetensors with upstream tensor names, weights ~ N(0, 1/fan_in)-ish.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
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

export function writeRandomModel(dir: string, c: BenchConfig, seed = 1): void {
  mkdirSync(dir, { recursive: true });
  const r = rng(seed);
  const t: Record<string, Tensor> = {};
  const fill = (shape: number[], scale: number, offset = 0): Tensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = offset + r() * scale;
    return { shape, data };
  };
  const linear = (name: string, out: number, inp: number) => {
    t[`${name}.weight`] = fill([out, inp], Math.sqrt(3 / inp));
    t[`${name}.bias`] = fill([out], 0.02);
  };
  const d = c.dim;
  t['patch_embedding.weight'] = fill([d, c.in_dim, 1, 2, 2], Math.sqrt(3 / (c.in_dim * 4)));
  t['patch_embedding.bias'] = fill([d], 0.02);
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
      t[`${b}.${a}.norm_q.weight`] = fill([d], 0.1, 1);
      t[`${b}.${a}.norm_k.weight`] = fill([d], 0.1, 1);
    }
    t[`${b}.norm3.weight`] = fill([d], 0.1, 1);
    t[`${b}.norm3.bias`] = fill([d], 0.02);
    linear(`${b}.ffn.0`, c.ffn_dim, d);
    linear(`${b}.ffn.2`, d, c.ffn_dim);
    t[`${b}.modulation`] = fill([1, 6, d], 1 / Math.sqrt(d));
  }
  linear('head.head', c.out_dim * 4, d);
  t['head.modulation'] = fill([1, 2, d], 1 / Math.sqrt(d));
  const config = {
    _class_name: 'CausalWanModel',
    model_type: 't2v',
    patch_size: [1, 2, 2],
    text_len: c.text_len,
    in_dim: c.in_dim,
    dim: d,
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
    local_attn_size: -1,
    sink_size: 0,
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
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(t));
}

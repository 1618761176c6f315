/**
 * `npm run bench -- matrix_game`: one block (3 denoising steps + the commit) of a random
 * mid-size Matrix-Game 2.0-structured model — i2v input (16 ‖ 4 ‖ 16 channels), CLIP context
 * (257 × 1280 through img_emb), the action module in every layer — against the same model
 * without action modules, so the ratio is the action module's cost. Latents 22 × 40 (half
 * of MG2's 44 × 80 per side: 220 tokens per frame), steady state (the window full).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadModel } from '../sdk/src/index.js';
import { encodeSafetensors, type Tensor } from '../sdk/src/safetensors.js';

const THREADS = Number(process.env.BENCH_THREADS ?? 2);

interface Mg2Bench {
  dim: number; ffn: number; heads: number; layers: number; actionBlocks: number[];
  hidden: number; actHeads: number; kb: number; mouse: number; clip: number; clipLen: number; H: number; W: number;
}

function writeMg2Model(dir: string, b: Mg2Bench): void {
  let s = 12345;
  const r = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s / 4294967296) * 2 - 1;
  };
  const t: Record<string, Tensor> = {};
  const fill = (shape: number[], scale: number, offset = 0): Tensor => {
    const n = shape.reduce((a, c) => a * c, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = offset + r() * scale;
    return { shape, data };
  };
  const lin = (name: string, out: number, inp: number, bias = true) => {
    t[`${name}.weight`] = fill([out, inp], Math.sqrt(3 / inp));
    if (bias) t[`${name}.bias`] = fill([out], 0.02);
  };
  const vec = (name: string, n: number, offset = 0) => (t[name] = fill([n], 0.1, offset));
  const d = b.dim, P = 12;
  t['patch_embedding.weight'] = fill([d, 36, 1, 2, 2], Math.sqrt(3 / 144));
  t['patch_embedding.bias'] = fill([d], 0.02);
  lin('time_embedding.0', d, 256);
  lin('time_embedding.2', d, d);
  lin('time_projection.1', 6 * d, d);
  vec('img_emb.proj.0.weight', b.clip, 1); vec('img_emb.proj.0.bias', b.clip);
  lin('img_emb.proj.1', b.clip, b.clip); lin('img_emb.proj.3', d, b.clip);
  vec('img_emb.proj.4.weight', d, 1); vec('img_emb.proj.4.bias', d);
  for (let l = 0; l < b.layers; l++) {
    const p = `blocks.${l}.`;
    for (const a of ['self_attn', 'cross_attn']) {
      for (const q of ['q', 'k', 'v', 'o']) lin(`${p}${a}.${q}`, d, d);
      vec(`${p}${a}.norm_q.weight`, d, 1); vec(`${p}${a}.norm_k.weight`, d, 1);
    }
    vec(`${p}norm3.weight`, d, 1); vec(`${p}norm3.bias`, d);
    lin(`${p}ffn.0`, b.ffn, d); lin(`${p}ffn.2`, d, b.ffn);
    t[`${p}modulation`] = fill([1, 6, d], 1 / Math.sqrt(d));
    if (!b.actionBlocks.includes(l)) continue;
    const a = `${p}action_model.`, c = b.hidden, hd = c / b.actHeads;
    lin(`${a}keyboard_embed.0`, 128, b.kb); lin(`${a}keyboard_embed.2`, 128, 128);
    lin(`${a}mouse_mlp.0`, c, b.mouse * P + d); lin(`${a}mouse_mlp.2`, c, c);
    vec(`${a}mouse_mlp.3.weight`, c, 1); vec(`${a}mouse_mlp.3.bias`, c);
    lin(`${a}t_qkv`, 3 * c, c, false);
    vec(`${a}img_attn_q_norm.weight`, hd, 1); vec(`${a}img_attn_k_norm.weight`, hd, 1);
    lin(`${a}proj_mouse`, d, c, false);
    vec(`${a}key_attn_q_norm.weight`, hd, 1); vec(`${a}key_attn_k_norm.weight`, hd, 1);
    lin(`${a}mouse_attn_q`, c, d, false); lin(`${a}keyboard_attn_kv`, 2 * c, 128 * P, false);
    lin(`${a}proj_keyboard`, d, c, false);
  }
  lin('head.head', 64, d);
  t['head.modulation'] = fill([1, 2, d], 1 / Math.sqrt(d));
  const cfg = {
    _class_name: 'CausalWanModel', model_type: 'i2v', patch_size: [1, 2, 2], in_dim: 36, dim: d, ffn_dim: b.ffn,
    freq_dim: 256, out_dim: 16, num_heads: b.heads, num_layers: b.layers, qk_norm: true, cross_attn_norm: true, eps: 1e-6,
    clip_dim: b.clip, clip_len: b.clipLen, local_attn_size: 6, sink_size: 0, num_frame_per_block: 3,
    denoising_step_list: [1000, 666, 333], warp_denoising_step: true, timestep_shift: 5, context_noise: 0,
    latent_height: b.H, latent_width: b.W,
    action_config: {
      blocks: b.actionBlocks, heads_num: b.actHeads, hidden_size: 128, img_hidden_size: d, keyboard_dim_in: b.kb,
      keyboard_hidden_dim: b.hidden, mouse_dim_in: b.mouse, mouse_hidden_dim: b.hidden, mouse_qk_dim_list: [8, 28, 28],
      rope_dim_list: [8, 28, 28], rope_theta: 256, qk_norm: true, qkv_bias: false, vae_time_compression_ratio: 4, windows_size: 3,
    },
    action: b.actionBlocks.length ? { mode: 'matrix_game', keys: ['w', 's', 'a', 'd'], mouse: ['pitch', 'yaw'] } : null,
  };
  if (!b.actionBlocks.length) delete (cfg as Partial<typeof cfg>).action_config;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(t));
}

async function measure(label: string, dir: string, b: Mg2Bench) {
  const model = await loadModel(dir, { threads: THREADS });
  const prompt = new Float32Array(b.clipLen * b.clip).map((_, i) => Math.sin(i));
  const image = new Float32Array(16 * 2 * b.H * b.W).map((_, i) => Math.cos(i));
  const s = model.createSession({ seed: 1, prompt, imageLatent: image });
  const act = b.actionBlocks.length ? { keys: ['w'], mouse: { yaw: 0.1 } } : undefined;
  for (let i = 0; i < 3; i++) await s.step({ actions: act }); // fill the 6-frame window
  const n = 3;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await s.step({ actions: act });
  const blockMs = (performance.now() - t0) / n;
  await s.close();
  model.close();
  console.log(`${label.padEnd(52)} ${blockMs.toFixed(0).padStart(7)} ms/block  ${(3000 / blockMs).toFixed(2)} latent frames/s`);
  return { label, blockMs };
}

export async function runMatrixGameBench() {
  const tmp = mkdtempSync(join(tmpdir(), 'wc-mg2-bench-'));
  try {
    const base: Mg2Bench = { dim: 512, ffn: 2048, heads: 8, layers: 8, actionBlocks: [0, 1, 2, 3, 4, 5, 6, 7], hidden: 256,
      actHeads: 4, kb: 4, mouse: 2, clip: 1280, clipLen: 257, H: 22, W: 40 };
    const withAct = join(tmp, 'mg2'), noAct = join(tmp, 'noact');
    for (const d of [withAct, noAct]) rmSync(d, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(withAct); mkdirSync(noAct);
    writeMg2Model(withAct, base);
    writeMg2Model(noAct, { ...base, actionBlocks: [] });
    console.log(`matrix_game: dim 512, 8 layers, ffn 2048, action module (hidden 256, 4 heads) in all 8, 3 × 22 × 40 latents, ${THREADS} threads`);
    const a = await measure('MG2-structured, action module in every layer', withAct, base);
    const n = await measure('same, no action module', noAct, { ...base, actionBlocks: [] });
    console.log(`action module cost: ${(a.blockMs / n.blockMs).toFixed(2)}× the block time`);
    return { threads: THREADS, rows: [a, n] };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

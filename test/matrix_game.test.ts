// Matrix-Game 2.0 conditioning against the PyTorch reference (tools/reference/matrix_game.py,
// float64) on a tiny random checkpoint of MG2's structure (test/fixtures/mg2_tiny: i2v input
// x ‖ mask ‖ image latent, CLIP-token context, the action module in layers 0 and 2 of 3,
// local_attn_size 6, steps [1000, 666, 333]); fixtures by tools/reference/make_fixtures_mg2.py.
// Tolerance 1e-5 of the reference's scale, as test/golden.test.ts.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ArgumentError, loadModel, ShapeError, type Model, type Session } from '../sdk/src/index.js';
import { readSafetensors } from '../sdk/src/safetensors.js';
import { fixtures, relErr, tensor } from './helpers/fixtures.js';

const TOL = 1e-5;
const dir = join(fixtures, 'mg2_tiny');
const doc = JSON.parse(readFileSync(join(fixtures, 'golden', 'mg2_cases.json'), 'utf8')) as {
  schedule: { steps: number[] };
  blocks: { frame_start: number; video_frames: number; steps: number }[];
};
const g = readSafetensors(join(fixtures, 'golden', 'mg2_rollout.safetensors')).tensors;
let model: Model;

beforeAll(async () => {
  model = await loadModel(dir, { threads: 2, kv: { dtype: 'f32' } });
});
afterAll(() => model.close());

function session(opts: { kvDtype?: 'f32' | 'bf16' } = {}): Session {
  return model.createSession({ prompt: tensor(g, 'clip'), imageLatent: tensor(g, 'image_latent'), ...opts });
}

describe('matrix_game: config and declared inputs', () => {
  it('exposes the i2v input, the CLIP context and per-video-frame actions', () => {
    const c = model.config;
    expect(c.model_type).toBe('i2v');
    expect(c.in_dim).toBe(12);
    expect(c.latent_channels).toBe(4);
    expect(c.image_latent).toEqual({ channels: 4, mask_channels: 4 });
    expect(c.action?.mode).toBe('matrix_game');
    expect(c.action?.blocks).toEqual([0, 2]);
    expect(c.action?.video_frames_per_latent).toBe(4);
    expect(model.inputs).toEqual({
      context: { kind: 'clip', rows: 5, dim: 16, required: true },
      imageLatent: { channels: 4, required: true },
      actions: { mode: 'matrix_game', size: 6, geometry: null, perVideoFrame: true, videoFramesPerLatent: 4 },
    });
    expect(session().layout.timesteps.map((t) => Number(t.toFixed(3)))).toEqual(doc.schedule.steps.map((t) => Number(t.toFixed(3))));
  });
});

describe('matrix_game: golden forward and rollout', () => {
  it('every forward matches, teacher-forced (probe with per-frame timesteps, each denoising step)', async () => {
    const s = session();
    for (let b = 0; b < doc.blocks.length; b++) {
      const act = tensor(g, `block.${b}.actions`);
      const v = await s.probe(tensor(g, `block.${b}.probe.x`), tensor(g, `block.${b}.probe.t`), act);
      expect(relErr(v, tensor(g, `block.${b}.probe.v`)), `block ${b} probe`).toBeLessThan(TOL);
      for (let i = 0; i < doc.blocks[b]!.steps; i++) {
        const vi = await s.probe(tensor(g, `block.${b}.fwd.${i}.x`), tensor(g, `block.${b}.fwd.${i}.t`), act);
        expect(relErr(vi, tensor(g, `block.${b}.fwd.${i}.v`)), `block ${b} step ${i}`).toBeLessThan(TOL);
      }
      await s.commit(tensor(g, `block.${b}.x0`), act);
    }
    await s.close();
  });

  it('the block loop with the reference noise reproduces every block (multi-block rollout)', async () => {
    const s = session();
    for (let b = 0; b < doc.blocks.length; b++) {
      const noise = Array.from({ length: doc.blocks[b]!.steps }, (_, i) => tensor(g, `block.${b}.noise.${i}`));
      const out = await s.step({ actions: tensor(g, `block.${b}.actions`), noise });
      expect(out.frameStart).toBe(doc.blocks[b]!.frame_start);
      expect(out.channels).toBe(4);
      expect(relErr(out.latents, tensor(g, `block.${b}.x0`)), `block ${b}`).toBeLessThan(TOL);
    }
    // the main window (6 frames) and the action caches' (6 frames) hold the last 3 frames
    expect((await s.stats()).kvFrames).toBe(3);
    await s.close();
  });

  it('the actions matter: earlier actions change later blocks through the window and caches', async () => {
    const s = session();
    const noise = (b: number) => Array.from({ length: doc.blocks[b]!.steps }, (_, i) => tensor(g, `block.${b}.noise.${i}`));
    const a0 = tensor(g, 'block.0.actions').slice();
    a0[a0.length - 6] = 1 - a0[a0.length - 6]!; // flip one key of the last video frame of block 0: no effect on block 0
    const o0 = await s.step({ actions: a0, noise: noise(0) });
    expect(relErr(o0.latents, tensor(g, 'block.0.x0'))).toBeLessThan(TOL); // video frame 4(F-1) is outside every window of block 0
    const o1 = await s.step({ actions: tensor(g, 'block.1.actions'), noise: noise(1) });
    expect(relErr(o1.latents, tensor(g, 'block.1.x0'))).toBeGreaterThan(1e-3); // ... but inside block 1's windows
    await s.close();
  });

  it('fork shares the action caches and history; stepMany batches sessions', async () => {
    const s = session();
    const noise = (b: number) => Array.from({ length: doc.blocks[b]!.steps }, (_, i) => tensor(g, `block.${b}.noise.${i}`));
    for (let b = 0; b < 2; b++) await s.step({ actions: tensor(g, `block.${b}.actions`), noise: noise(b) });
    const f = await s.fork();
    const outs = await model.stepMany([
      { session: s, actions: tensor(g, 'block.2.actions'), noise: noise(2) },
      { session: f, actions: tensor(g, 'block.2.actions'), noise: noise(2) },
    ]);
    for (const o of outs) {
      if (!('latents' in o)) throw o;
      expect(relErr(o.latents, tensor(g, 'block.2.x0'))).toBeLessThan(TOL);
    }
    const f3 = await f.step({ actions: tensor(g, 'block.3.actions'), noise: noise(3) });
    expect(relErr(f3.latents, tensor(g, 'block.3.x0'))).toBeLessThan(TOL);
    await Promise.all([s.close(), f.close()]);
  });

  it('bf16 KV pages (self-attention and action caches) stay close', async () => {
    const s = session({ kvDtype: 'bf16' });
    for (let b = 0; b < doc.blocks.length; b++) {
      const noise = Array.from({ length: doc.blocks[b]!.steps }, (_, i) => tensor(g, `block.${b}.noise.${i}`));
      const out = await s.step({ actions: tensor(g, `block.${b}.actions`), noise });
      expect(relErr(out.latents, tensor(g, `block.${b}.x0`))).toBeLessThan(2e-2);
    }
    await s.close();
  });
});

describe('matrix_game: an upstream config.json as it is', () => {
  it('loads with generic action names and the default i2v layout, and reproduces the rollout', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'wc-mg2-'));
    try {
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      // what configs/distilled_model/*/config.json carries (+ the tiny CLIP width and latent size)
      const keep = ['_class_name', 'model_type', 'patch_size', 'text_len', 'in_dim', 'dim', 'ffn_dim', 'freq_dim', 'out_dim',
        'num_heads', 'num_layers', 'eps', 'action_config', 'local_attn_size', 'sink_size', 'clip_dim', 'clip_len',
        'latent_height', 'latent_width', 'denoising_step_list'];
      const up: Record<string, unknown> = { _diffusers_version: '0.35.0.dev0', inject_sample_info: false };
      for (const k of keep) up[k] = cfg[k];
      writeFileSync(join(tmp, 'config.json'), JSON.stringify(up));
      copyFileSync(join(dir, 'model.safetensors'), join(tmp, 'model.safetensors'));
      const m = await loadModel(tmp, { threads: 2, kv: { dtype: 'f32' } });
      expect(m.config.action?.keys).toEqual(['key0', 'key1', 'key2', 'key3']);
      expect(m.config.action?.mouse.map((a) => a.name)).toEqual(['mouse0', 'mouse1']);
      expect(m.config.image_latent).toEqual({ channels: 4, mask_channels: 4 });
      const s = m.createSession({ prompt: tensor(g, 'clip'), imageLatent: tensor(g, 'image_latent') });
      for (let b = 0; b < 2; b++) {
        const noise = Array.from({ length: doc.blocks[b]!.steps }, (_, i) => tensor(g, `block.${b}.noise.${i}`));
        const out = await s.step({ actions: tensor(g, `block.${b}.actions`), noise });
        expect(relErr(out.latents, tensor(g, `block.${b}.x0`))).toBeLessThan(TOL);
      }
      await s.close();
      m.close();
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('names what does not match the checkpoint', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'wc-mg2-'));
    try {
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { action_config: { blocks: number[] } };
      cfg.action_config.blocks = [0, 1];
      writeFileSync(join(tmp, 'config.json'), JSON.stringify(cfg));
      copyFileSync(join(dir, 'model.safetensors'), join(tmp, 'model.safetensors'));
      await expect(loadModel(tmp, { threads: 1 })).rejects.toThrow(/blocks\.1\.action_model/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('matrix_game: inputs and errors', () => {
  it('one action row applies to every video frame of the block', async () => {
    const s = session();
    const one = await s.step({ actions: { keys: ['w'], mouse: { yaw: 0.25 } } });
    const t = session();
    const rows = Array.from({ length: 9 }, () => ({ keys: ['w'], mouse: { yaw: 0.25 } }));
    const many = await t.step({ actions: rows });
    expect(relErr(one.latents, many.latents)).toBe(0);
    await Promise.all([s.close(), t.close()]);
  });

  it('says what is missing or mis-shaped', async () => {
    const noImage = model.createSession({ prompt: tensor(g, 'clip') });
    await expect(noImage.step()).rejects.toThrow(ArgumentError);
    await expect(noImage.step()).rejects.toThrow(/image latent/);
    await noImage.close();
    const noContext = model.createSession({ imageLatent: tensor(g, 'image_latent') });
    await expect(noContext.step()).rejects.toThrow(/CLIP image embedding of 5 x 16/);
    await noContext.close();
    const s = session();
    await expect(s.step({ actions: new Float32Array(12 * 6) })).rejects.toThrow(ShapeError); // block 0 takes 9 rows
    await expect(s.step({ actions: new Float32Array(12 * 6) })).rejects.toThrow(/this block takes 9/);
    await s.step({ actions: new Float32Array(9 * 6) });
    await s.step({ actions: new Float32Array(12 * 6) }); // later blocks take 12
    await expect(s.setImageLatent(new Float32Array(5))).rejects.toThrow(ShapeError);
    expect(() => model.createSession({ foldCommit: true })).toThrow(/foldCommit/);
    await s.close();
  });
});

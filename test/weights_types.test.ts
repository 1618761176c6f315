// Weight storage types: the tiny fixture loaded with bf16 and int8 linears against the
// same checkpoint in f32 (KV in f32 so only the weights differ), one forward and a few
// blocks of the free-running loop with the reference noise.
//
// Tolerances (relative to the f32 output's max): one GEMM with bf16 weights is off by
// ~2e-3 of its output (weights rounded by ≤ 2^-9; the AVX512_BF16 path also rounds the
// activations), int8 by ~4–6e-3 (Q8_0 blocks of 32, plus per-block int8 activations on
// the VNNI path); test/kernels.test.ts bounds those. Through 2 layers of ~10 chained
// linears, attention, norms and the sampler this measured at most 7e-3 (bf16, either
// path) and 1.6e-2 (int8) per forward and 1.2e-2 (int8) per block, so 1e-2 and 3e-2
// keep ~1.5–2× margin while a wrong scale, layout or offset (errors of order 1) fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadModel, type Model } from '../sdk/src/index.js';
import { goldenCases, goldenTensors, relErr, tensor, tinyDir } from './helpers/fixtures.js';

const TOL = { bf16: 1e-2, int8: 3e-2 } as const;
const BLOCKS = 3;
const c = goldenCases().cases[0]!;
const g = goldenTensors(c);

interface Run {
  probes: Float32Array[];
  latents: Float32Array[];
}

async function rollout(model: Model): Promise<Run> {
  const s = model.createSession({ localAttnSize: c.local_attn_size, sinkSize: c.sink_size });
  const run: Run = { probes: [], latents: [] };
  let prompt = -1;
  for (let b = 0; b < Math.min(BLOCKS, c.blocks.length); b++) {
    const blk = c.blocks[b]!;
    if (blk.prompt !== prompt) {
      await s.setPrompt(tensor(g, `prompt.${blk.prompt}`));
      prompt = blk.prompt;
    }
    const act = tensor(g, `block.${b}.actions`);
    run.probes.push(await s.probe(tensor(g, `block.${b}.fwd.0.x`), tensor(g, `block.${b}.fwd.0.t`), act));
    const noise = Array.from({ length: blk.steps }, (_, i) => tensor(g, `block.${b}.noise.${i}`));
    run.latents.push((await s.step({ actions: act, noise })).latents);
  }
  await s.close();
  return run;
}

let f32: Model;
let f32Run: Run;

beforeAll(async () => {
  f32 = await loadModel(tinyDir, { threads: 2, kv: { dtype: 'f32' } });
  f32Run = await rollout(f32);
});
afterAll(() => f32.close());

describe('weights: f32 (default)', () => {
  it('info() reports f32 weights on the f32 path', () => {
    expect(f32.info().weights).toBe('f32');
    expect(f32.info().gemmPath).toBe('f32');
  });
});

for (const weights of ['bf16', 'int8'] as const) {
  describe(`weights: ${weights}`, () => {
    let model: Model;
    beforeAll(async () => {
      model = await loadModel(tinyDir, { threads: 2, weights, kv: { dtype: 'f32' } });
    });
    afterAll(() => model.close());

    it('info() reports the type, its kernel path and fewer weight bytes', () => {
      const info = model.info();
      expect(info.weights).toBe(weights);
      expect(info.gemmPath).toMatch(weights === 'bf16' ? /^bf16_(dot|widen|amx)$/ : /^int8_(dot|widen|amx)$/);
      // linear weights shrink to 1/2 (bf16) or ~0.28 (int8 + scales); norms, modulation, biases stay f32
      expect(info.weightBytes).toBeLessThan(f32.info().weightBytes * (weights === 'bf16' ? 0.55 : 0.4));
    });

    it(`forwards and ${BLOCKS} blocks stay within ${TOL[weights]} of the f32 model`, async () => {
      const r = await rollout(model);
      for (let b = 0; b < r.latents.length; b++) {
        expect(relErr(r.probes[b]!, f32Run.probes[b]!), `block ${b} forward`).toBeLessThan(TOL[weights]);
        expect(relErr(r.latents[b]!, f32Run.latents[b]!), `block ${b} latents`).toBeLessThan(TOL[weights]);
        // and it is not the f32 model by accident
        expect(relErr(r.probes[b]!, f32Run.probes[b]!)).toBeGreaterThan(1e-5);
      }
    });
  });
}

describe('weights option', () => {
  it('rejects an unknown type with an ArgumentError', async () => {
    await expect(loadModel(tinyDir, { weights: 'fp8' as never })).rejects.toMatchObject({ name: 'ArgumentError' });
  });
});

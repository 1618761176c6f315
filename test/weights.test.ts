// Loading checkpoints: every kind of bad file is a typed error naming the file and
// tensor (never a crash), and the header parser survives fuzzing.
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ArgumentError, ConfigError, WeightsError, decodeSafetensors, encodeSafetensors, loadModel, type Tensor } from '../sdk/src/index.js';
import { denoisingStepsArg } from '../sdk/src/model.js';
import { nativeTesting } from './helpers/native_testing.js';
import { fixtures, root, tinyDir } from './helpers/fixtures.js';

const T = nativeTesting().testing;
const work = mkdtempSync(join(tmpdir(), 'wc-weights-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const tinyConfig = readFileSync(join(tinyDir, 'config.json'), 'utf8');
const tiny = decodeSafetensors(readFileSync(join(tinyDir, 'model.safetensors'))).tensors;

let n = 0;
function modelDir(tensors: Record<string, Tensor> | Buffer, config = tinyConfig): string {
  const dir = join(work, `m${n++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), config);
  writeFileSync(join(dir, 'model.safetensors'), Buffer.isBuffer(tensors) ? tensors : encodeSafetensors(tensors));
  return dir;
}
function tinyTensors(): Record<string, Tensor> {
  return Object.fromEntries(tiny.entries());
}

async function loadError(dir: string): Promise<Error> {
  try {
    const m = await loadModel(dir, { threads: 1 });
    m.close();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the load to fail');
}

describe('checkpoint loader', () => {
  it('loads the tiny checkpoint (re-encoded by the TS writer) and exposes its config', async () => {
    const m = await loadModel(modelDir(tinyTensors()), { threads: 1 });
    expect(m.config.dim).toBe(64);
    expect(m.config.action?.keys).toEqual(['w', 'a', 's', 'd', 'space']);
    expect(m.info().weightBytes).toBeGreaterThan(600_000);
    m.close();
  });

  it('names a missing tensor', async () => {
    const t = tinyTensors();
    delete t['blocks.1.self_attn.norm_k.weight'];
    const e = await loadError(modelDir(t));
    expect(e).toBeInstanceOf(WeightsError);
    expect(e.message).toMatch(/model\.safetensors.*missing tensor.*blocks\.1\.self_attn\.norm_k\.weight/);
  });

  it('names an extra tensor', async () => {
    const t = tinyTensors();
    t['blocks.0.surprise'] = { shape: [2], data: new Float32Array(2) };
    const e = await loadError(modelDir(t));
    expect(e).toBeInstanceOf(WeightsError);
    expect(e.message).toMatch(/model\.safetensors: "blocks\.0\.surprise"/);
  });

  it('names a mis-shaped tensor with both shapes', async () => {
    const t = tinyTensors();
    t['blocks.0.ffn.0.weight'] = { shape: [128, 63], data: new Float32Array(128 * 63) };
    const e = await loadError(modelDir(t));
    expect(e).toBeInstanceOf(WeightsError);
    expect(e.message).toMatch(/"blocks\.0\.ffn\.0\.weight" has shape \[128, 63\], expected \[128, 64\]/);
  });

  it('rejects a truncated file without reading past its end', async () => {
    const dir = modelDir(tinyTensors());
    const f = join(dir, 'model.safetensors');
    truncateSync(f, readFileSync(f).length - 1000);
    const e = await loadError(dir);
    expect(e).toBeInstanceOf(WeightsError);
    expect(e.message).toMatch(/model\.safetensors: tensor ".*": data runs past the end of the file.*truncated/);
  });

  it('rejects a file cut inside its header', async () => {
    const dir = modelDir(tinyTensors());
    truncateSync(join(dir, 'model.safetensors'), 100);
    expect((await loadError(dir)).message).toMatch(/header length \d+ runs past the end of the file/);
  });

  it('rejects a bad header', async () => {
    const bytes = Buffer.alloc(8 + 12);
    bytes.writeBigUInt64LE(12n, 0);
    bytes.write('{"a": [1, 2', 8);
    const e = await loadError(modelDir(bytes));
    expect(e).toBeInstanceOf(WeightsError);
    expect(e.message).toMatch(/header: invalid JSON at byte/);
  });

  it('rejects a weight stored as integers', async () => {
    const buf = Buffer.from(encodeSafetensors(tinyTensors()));
    const hlen = Number(buf.readBigUInt64LE(0));
    const header = buf.subarray(8, 8 + hlen).toString();
    // head.modulation is [1, 2, 64] F32 = 512 bytes; relabel it as I32 (same size)
    const patched = header.replace(/("head\.modulation":\{"dtype":")F32/, '$1I32');
    expect(patched).not.toBe(header);
    buf.write(patched, 8);
    const e = await loadError(modelDir(buf));
    expect(e).toBeInstanceOf(WeightsError);
    expect(e.message).toMatch(/"head\.modulation" has dtype I32; weights must be F32, F16, BF16 or F64/);
  });

  it('reports a missing directory and an empty one', async () => {
    expect((await loadError(join(work, 'nope'))).message).toMatch(/config\.json: cannot open/);
    const dir = join(work, 'empty');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), tinyConfig);
    expect((await loadError(dir)).message).toMatch(/no \*\.safetensors file/);
  });

  it('loads a checkpoint split over shards and refuses a tensor in two shards', async () => {
    const dir = join(work, 'sharded');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), tinyConfig);
    const all = tinyTensors();
    const names = Object.keys(all);
    const half = (a: string[]) => Object.fromEntries(a.map((k) => [k, all[k]!]));
    writeFileSync(join(dir, 'model-00001-of-00002.safetensors'), encodeSafetensors(half(names.slice(0, 40))));
    writeFileSync(join(dir, 'model-00002-of-00002.safetensors'), encodeSafetensors(half(names.slice(40))));
    const m = await loadModel(dir, { threads: 1 });
    m.close();
    writeFileSync(join(dir, 'model-00002-of-00002.safetensors'), encodeSafetensors(half(names.slice(39))));
    expect((await loadError(dir)).message).toMatch(/also appears in .*model-00001-of-00002/);
  });
});

describe('config.json', () => {
  const base = JSON.parse(tinyConfig) as Record<string, unknown>;
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['wrong type', { dim: '64' }, /"dim" must be a number, not a string/],
    ['heads do not divide dim', { num_heads: 3 }, /dim must be divisible by num_heads/],
    ['window too small', { local_attn_size: 3, sink_size: 1 }, /local_attn_size \(3\) must exceed sink_size/],
    ['unsupported model_type', { model_type: 'ti2v' }, /model_type "ti2v" is not supported/],
    ['i2v channels do not add up', { model_type: 'i2v' }, /i2v: in_dim \(4\) must equal out_dim \(4\) \+ image_latent.mask_channels/],
    ['unknown action mode', { action: { mode: 'film', keys: ['w'] } }, /action mode "film" is not supported/],
    ['matrix_game without action_config', { action: { mode: 'matrix_game', keys: ['w'] } }, /needs the upstream "action_config"/],
    ['bad action axis', { action: { keys: ['w'], mouse: [{ name: 'dx', min: 1, max: -1 }] } }, /needs min < max/],
    ['step out of range', { denoising_step_list: [1000, 2000] }, /entries must be numbers in \[0, 1000\]/],
    ['pose without a height', { action: { ...(base.action as object), pose: { extent: 12 } } }, /pose: needs "extent" and "height"/],
    ['pose with extent 0', { action: { ...(base.action as object), pose: { extent: 0, height: 3 } } }, /"extent" and "height" must be finite and > 0/],
    ['pose frequencies that are not numbers', { action: { ...(base.action as object), pose: { extent: 12, height: 3, frequencies: ['1'] } } }, /"frequencies" must be finite numbers > 0/],
    ['a pose that is not an object', { action: { ...(base.action as object), pose: 12 } }, /"pose" must be an object/],
    ['geometry whose channels do not add up', { action: { ...(base.action as object), geometry: { channels: 3 } } }, /in_dim \(4\) must equal out_dim \(4\) \+ action.geometry.channels \(3\)/],
    ['geometry without channels', { in_dim: 7, action: { ...(base.action as object), geometry: { samples: 2 } } }, /geometry: needs "channels"/],
    ['geometry with near 0', { in_dim: 7, action: { ...(base.action as object), geometry: { channels: 3, near: 0 } } }, /"near" must be finite and > 0/],
    ['a geometry that is not an object', { action: { ...(base.action as object), geometry: 3 } }, /"geometry" must be an object/],
  ];
  for (const [what, patch, re] of bad)
    it(`rejects ${what}`, async () => {
      const e = await loadError(modelDir(tinyTensors(), JSON.stringify({ ...base, ...patch })));
      expect(e).toBeInstanceOf(ConfigError);
      expect(e.message).toMatch(/config\.json/);
      expect(e.message).toMatch(re);
    });
  it('a pose-taking config needs weights with the pose columns', async () => {
    const e = await loadError(modelDir(tinyTensors(), JSON.stringify({ ...base, action: { ...(base.action as object), pose: { extent: 12, height: 3, frequencies: [1] } } })));
    expect(e).toBeInstanceOf(WeightsError);
    expect(e.message).toMatch(/action_embedding\.0\.weight/);
  });
  it('a geometry-taking config needs a patch embedding with the geometry channels', async () => {
    const e = await loadError(modelDir(tinyTensors(), JSON.stringify({ ...base, in_dim: 7, action: { ...(base.action as object), geometry: { channels: 3 } } })));
    expect(e).toBeInstanceOf(WeightsError);
    expect(e.message).toMatch(/patch_embedding\.weight/);
  });
  it('denoisingSteps samples with other timesteps: the same as a config.json naming them, checked the same way', async () => {
    const steps = [1000, 500];
    const dir = modelDir(tinyTensors());
    const viaConfig = modelDir(tinyTensors(), JSON.stringify({ ...base, denoising_step_list: steps }));
    const a = await loadModel(dir, { threads: 1, denoisingSteps: steps });
    const b = await loadModel(viaConfig, { threads: 1 });
    const plain = await loadModel(dir, { threads: 1 });
    try {
      const sa = a.createSession({ seed: 7 });
      const sb = b.createSession({ seed: 7 });
      const sp = plain.createSession({ seed: 7 });
      expect(sa.layout.timesteps).toEqual(sb.layout.timesteps); // the tiny model warps its steps through the shifted schedule
      expect(sa.layout.timesteps.length).toBe(steps.length);
      expect(sa.layout.forwardsPerCall).toBe(steps.length + 1);
      expect(sp.layout.timesteps.length).not.toBe(steps.length);
      const actions = new Float32Array(sa.layout.frames * sa.layout.actionSize).fill(0.25);
      for (let k = 0; k < 3; k++) {
        const [ra, rb, rp] = [await sa.step({ actions }), await sb.step({ actions }), await sp.step({ actions })];
        expect(ra.forwards).toBe(steps.length + 1);
        expect(Buffer.from(ra.latents.buffer, ra.latents.byteOffset, ra.latents.byteLength).equals(Buffer.from(rb.latents.buffer, rb.latents.byteOffset, rb.latents.byteLength))).toBe(true);
        expect(ra.latents).not.toEqual(rp.latents); // another sampler, other latents
      }
    } finally {
      a.close();
      b.close();
      plain.close();
    }
    for (const [bad, re] of [
      [[500, 1000], /denoisingSteps must be strictly decreasing/],
      [[1000, 1000], /denoisingSteps must be strictly decreasing/],
      [[1000, 0], /denoisingSteps entries must be numbers in \(0, 1000\]/],
      [[1001], /denoisingSteps entries must be numbers in \(0, 1000\]/],
      [[Number.NaN], /denoisingSteps entries must be numbers in \(0, 1000\]/],
    ] as const) {
      const e = await loadModel(dir, { threads: 1, denoisingSteps: bad as unknown as number[] }).then(() => null, (x: Error) => x);
      expect(e).toBeInstanceOf(ConfigError);
      expect(e!.message).toMatch(re);
    }
    for (const [bad, re] of [
      [[], /denoisingSteps must have 1 to 64 timesteps/],
      ['1000,500', /denoisingSteps must be an array of timesteps/],
      [[1000, '500'], /denoisingSteps entries must be numbers/],
      [new Array(65).fill(0).map((_, i) => 1000 - i), /denoisingSteps must have 1 to 64 timesteps/],
    ] as const) {
      const e = await loadModel(dir, { threads: 1, denoisingSteps: bad as unknown as number[] }).then(() => null, (x: Error) => x);
      expect(e).toBeInstanceOf(ArgumentError);
      expect(e!.message).toMatch(re);
    }
    // the command lines' --denoising-steps
    expect(denoisingStepsArg('1000, 500', '--denoising-steps')).toEqual([1000, 500]);
    expect(denoisingStepsArg(undefined, '--denoising-steps')).toBeUndefined();
    for (const bad of ['', '1000;500', '1000,', '-5', '1e3', '1000,abc', '0x10'])
      expect(() => denoisingStepsArg(bad, '--denoising-steps')).toThrow(/--denoising-steps must be comma-separated timesteps/);
    // a model that warps its steps (the tiny one does) indexes the shifted schedule: integers only
    expect(base.warp_denoising_step).toBe(true);
    const w = await loadModel(dir, { threads: 1, denoisingSteps: [999.5] }).then(() => null, (x: Error) => x);
    expect(w).toBeInstanceOf(ConfigError);
    expect(w!.message).toMatch(/denoisingSteps must be integers for a model that warps its steps/);
  });
  it('blockFrames runs a model on other blocks, checked like the config\'s own block size', async () => {
    const dir = modelDir(tinyTensors());
    const m = await loadModel(dir, { threads: 1, blockFrames: 1 });
    expect(m.config.num_frame_per_block).toBe(1);
    const s = m.createSession();
    const out = await s.step({ actions: new Float32Array(7) }); // one frame's 5 keys + 2 mouse axes
    expect(out.latents.length).toBe(m.config.latent_channels * m.config.latent_height * m.config.latent_width);
    await s.close();
    m.close();
    for (const bad of [0, 1.5, 65, '2', -1]) {
      await expect(loadModel(dir, { threads: 1, blockFrames: bad as number })).rejects.toThrow(/blockFrames must be an integer in \[1, 64\]/);
    }
    // the window must still leave a past frame: local_attn_size 4, sink 1, blocks of 3
    const windowed = JSON.stringify({ ...base, local_attn_size: 4, sink_size: 1, num_frame_per_block: 1 });
    const e = await loadModel(modelDir(tinyTensors(), windowed), { threads: 1, blockFrames: 3 }).then(() => null, (x: Error) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect(e!.message).toMatch(/local_attn_size \(4\) must exceed sink_size \(1\) \+ num_frame_per_block \(3\)/);
    // a model whose blocks are tied to its action module is refused, not run wrong
    const mg = await loadModel(join(fixtures, 'mg2_tiny'), { threads: 1, blockFrames: 1 }).then(() => null, (x: Error) => x);
    expect(mg).toBeInstanceOf(ConfigError);
    expect(mg!.message).toMatch(/blockFrames 1 \(blocks of other than config\.json's 3 frames\) applies to t2v models with the block loop; this one has the matrix_game action module/);
    (await loadModel(join(fixtures, 'mg2_tiny'), { threads: 1, blockFrames: 3 })).close(); // its own size changes nothing
    // openings must be whole blocks: the default world's are 3 frames
    const op = await loadModel(join(root, 'models', 'default'), { threads: 1, blockFrames: 2 }).then(() => null, (x: Error) => x);
    expect(op).toBeInstanceOf(WeightsError);
    expect(op!.message).toMatch(/openings\.safetensors.*blockFrames 2: pick a block size that divides the openings' 3 frames/);
  });
  it('rejects malformed JSON with the byte offset', async () => {
    const e = await loadError(modelDir(tinyTensors(), '{"dim": 64,, }'));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toMatch(/invalid JSON at byte 11/);
  });
  it('takes upstream defaults for absent keys (a Wan2.1 1.3B config parses)', () => {
    const c = T.parseConfig(JSON.stringify({ _class_name: 'WanModel', dim: 1536, eps: 1e-6, ffn_dim: 8960, freq_dim: 256, in_dim: 16, model_type: 't2v', num_heads: 12, num_layers: 30, out_dim: 16, text_len: 512 }));
    expect(c).toEqual({ dim: 1536, num_heads: 12, num_layers: 30, actionSize: 0 });
  });
});

describe('safetensors header fuzzing', () => {
  const valid = encodeSafetensors({
    a: { shape: [2, 3], data: new Float32Array(6).fill(1) },
    b: { shape: [4], data: new Float32Array(4).fill(2) },
  }, 'F32', { format: 'pt' });

  function parseOrWeightsError(bytes: Uint8Array): void {
    try {
      const r = T.parseSafetensors(bytes);
      expect(Array.isArray(r)).toBe(true);
    } catch (e) {
      expect((e as { code?: string }).code, String(e)).toBe('WEIGHTS');
      expect((e as Error).message).toMatch(/^<fuzz>( header)?: /);
    }
  }

  it('parses the valid file', () => {
    expect(T.parseSafetensors(valid).map((t) => t.name)).toEqual(['a', 'b']);
  });

  it('every truncation is either valid or a clear error', () => {
    for (let len = 0; len < valid.length; len++) parseOrWeightsError(valid.subarray(0, len));
  });

  it('random byte corruption never crashes', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
        const b = Buffer.from(valid);
        for (const [i, v] of edits) b[i] = v;
        parseOrWeightsError(b);
      }),
      { numRuns: 3000 },
    );
  });

  it('random headers (JSON-ish text with a correct or lying length) never crash', () => {
    const entry = fc.record({
      dtype: fc.constantFrom('F32', 'F16', 'BF16', 'I64', 'U8', 'F8', '', 'f32'),
      shape: fc.array(fc.oneof(fc.nat(10), fc.integer({ min: -3, max: 3 }), fc.double()), { maxLength: 4 }),
      data_offsets: fc.array(fc.oneof(fc.nat(64), fc.integer({ min: -5, max: 2 ** 40 }), fc.double()), { minLength: 0, maxLength: 3 }),
    });
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(entry, fc.anything())),
        fc.nat(64),
        fc.integer({ min: -4, max: 4 }),
        (header, dataLen, lie) => {
          const json = Buffer.from(JSON.stringify(header));
          const b = Buffer.alloc(8 + json.length + dataLen);
          b.writeBigUInt64LE(BigInt(Math.max(0, json.length + lie)), 0);
          json.copy(b, 8);
          parseOrWeightsError(b);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('random bytes never crash', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => parseOrWeightsError(b)), { numRuns: 3000 });
  });

  it('rejects overlapping data ranges and implausible header lengths', () => {
    const json = Buffer.from(JSON.stringify({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }));
    const b = Buffer.alloc(8 + json.length + 12);
    b.writeBigUInt64LE(BigInt(json.length), 0);
    json.copy(b, 8);
    expect(() => T.parseSafetensors(b)).toThrow(/overlap/);
    const big = Buffer.alloc(16);
    big.writeBigUInt64LE(2n ** 62n, 0);
    expect(() => T.parseSafetensors(big)).toThrow(/implausible/);
  });
});

it('a corrupted weights file on disk is a WeightsError through the full loader', async () => {
  await fc.assert(
    fc.asyncProperty(fc.nat(4000), fc.integer({ min: 0, max: 255 }), async (i, v) => {
      const buf = Buffer.from(readFileSync(join(tinyDir, 'model.safetensors')));
      buf[i] = v;
      const dir = modelDir(buf);
      try {
        (await loadModel(dir, { threads: 1 })).close();
      } catch (e) {
        expect(e).toBeInstanceOf(WeightsError);
      }
      rmSync(dir, { recursive: true });
    }),
    { numRuns: 60 },
  );
});


// The SDK surface: actions, streams, text prompts, fork independence.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ArgumentError, ClosedError, TablePromptEncoder, encodeActions, loadModel, type ActionSpace, type Model } from '../sdk/src/index.js';
import { goldenCases, goldenTensors, relErr, tensor, tinyDir } from './helpers/fixtures.js';

const g = goldenTensors(goldenCases().cases[0]!);
const day = tensor(g, 'prompt.0');
const night = tensor(g, 'prompt.1');
let model: Model;
beforeAll(async () => {
  model = await loadModel(tinyDir, {
    threads: 2,
    kv: { dtype: 'f32' },
    promptEncoder: new TablePromptEncoder(new Map([['day', day], ['night', night]])),
  });
});
afterAll(() => model.close());

describe('encodeActions', () => {
  const space: ActionSpace = { mode: 'additive', keys: ['w', 'a', 's', 'd', 'space'], mouse: [{ name: 'dx', min: -1, max: 1 }, { name: 'dy', min: -1, max: 1 }] };
  it('encodes keys then mouse axes, for every frame or per frame', () => {
    expect(Array.from(encodeActions({ keys: ['w', 'space'], mouse: { dy: 0.5 } }, space, 2))).toEqual([1, 0, 0, 0, 1, 0, 0.5, 1, 0, 0, 0, 1, 0, 0.5]);
    expect(Array.from(encodeActions([{ keys: { a: true, d: false } }, { mouse: { dx: -1 } }], space, 2))).toEqual([0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0]);
    expect(Array.from(encodeActions({ keys: new Set(['s']) }, space, 1))).toEqual([0, 0, 1, 0, 0, 0, 0]);
  });
  it('refuses unknown keys and axes, non-finite and out-of-range values, wrong frame counts', () => {
    expect(() => encodeActions({ keys: ['q'] }, space, 1)).toThrow(/unknown key "q"; this model's keys are w, a, s, d, space/);
    expect(() => encodeActions({ mouse: { wheel: 1 } }, space, 1)).toThrow(/unknown mouse axis "wheel"/);
    expect(() => encodeActions({ mouse: { dx: NaN } }, space, 1)).toThrow(/must be a finite number/);
    expect(() => encodeActions({ mouse: { dx: 1.5 } }, space, 1)).toThrow(/dx" = 1.5 is outside \[-1, 1\]/);
    expect(() => encodeActions([{}, {}], space, 3)).toThrow(/got actions for 2 frames; a block has 3/);
    expect(() => encodeActions({ keys: { w: 1 as unknown as boolean } }, space, 1)).toThrow(ArgumentError);
  });
  it('step() takes action objects and they equal the encoded vectors', async () => {
    const a = model.createSession({ seed: 1, prompt: day });
    const b = model.createSession({ seed: 1, prompt: day });
    const x = await a.step({ actions: { keys: ['w'], mouse: { dx: 0.3 } } });
    const y = await b.step({ actions: encodeActions({ keys: ['w'], mouse: { dx: 0.3 } }, model.config.action!, 3) });
    expect(relErr(x.latents, y.latents)).toBe(0);
    expect(x.latencyMs).toBeGreaterThan(0);
    await expect(a.step({ actions: { keys: ['jump'] } })).rejects.toThrow(/unknown key "jump"/);
    await Promise.all([a.close(), b.close()]);
  });
});

describe('prompts', () => {
  it('text prompts resolve through the encoder and equal their embeddings', async () => {
    const a = model.createSession({ seed: 2, prompt: 'Day' });
    const b = model.createSession({ seed: 2, prompt: day });
    expect(relErr((await a.step()).latents, (await b.step()).latents)).toBe(0);
    await a.setPrompt('night');
    await b.setPrompt(night);
    expect(relErr((await a.step()).latents, (await b.step()).latents)).toBe(0);
    await expect(a.setPrompt('dusk')).rejects.toThrow(/unknown prompt "dusk"; this model knows: day, night/);
    expect(() => model.createSession({ prompt: 'fog' })).toThrow(/unknown prompt "fog"/);
    await Promise.all([a.close(), b.close()]);
  });
  it('a model without an encoder says so', async () => {
    const m = await loadModel(tinyDir, { threads: 1 });
    expect(m.promptEncoder).toBeNull();
    expect(() => m.createSession({ prompt: 'day' })).toThrow(/no prompt encoder/);
    m.close();
  });
});

describe('stream', () => {
  it('yields blocks with the latest actions, and breaking out closes the session and frees its pages', async () => {
    const s = model.createSession({ seed: 3, prompt: day });
    let held: string[] = [];
    const seen: number[] = [];
    for await (const block of s.stream(() => ({ keys: held }))) {
      seen.push(block.frameStart);
      held = ['w']; // pressed while block 0 was out: applies to the next block
      if (seen.length === 3) break;
    }
    expect(seen).toEqual([0, 3, 6]);
    expect(s.closed).toBe(true);
    expect(model.kvStats().usedBytes).toBe(0);
    await expect(s.step()).rejects.toThrow(ClosedError);
    // the same actions through step() give the same blocks
    const r = model.createSession({ seed: 3, prompt: day });
    await r.step({ actions: { keys: [] } });
    const b1 = await r.step({ actions: { keys: ['w'] } });
    const again = model.createSession({ seed: 3, prompt: day });
    const blocks = [];
    for await (const b of again.stream([{ keys: [] }, { keys: ['w'] }])) blocks.push(b);
    expect(blocks.length).toBe(2);
    expect(relErr(blocks[1]!.latents, b1.latents)).toBe(0);
    await r.close();
  });
  it('stops on abort and after `blocks`, and can leave the session open', async () => {
    const s = model.createSession({ seed: 4, prompt: day });
    const ac = new AbortController();
    let n = 0;
    for await (const _ of s.stream(() => undefined, { signal: ac.signal, closeOnEnd: false })) {
      if (++n === 2) ac.abort();
    }
    expect(n).toBe(2);
    expect(s.closed).toBe(false);
    let m = 0;
    for await (const _ of s.stream(() => undefined, { blocks: 3 })) m++;
    expect(m).toBe(3);
    expect(s.closed).toBe(true);
  });
});

describe('fork', () => {
  it('a fork diverges with its own seed and leaves its parent exactly as it was', async () => {
    const ref = model.createSession({ seed: 5, prompt: day });
    const p = model.createSession({ seed: 5, prompt: day });
    await ref.step();
    await p.step();
    const f = await p.fork({ seed: 77 });
    await f.setPrompt('night');
    const fb = await f.step({ actions: { keys: ['a'] } });
    const pb = await p.step();
    const rb = await ref.step();
    expect(relErr(pb.latents, rb.latents)).toBe(0);
    expect(relErr(fb.latents, rb.latents)).toBeGreaterThan(1e-3);
    await Promise.all([ref.close(), p.close(), f.close()]);
  });
});

describe('frames', () => {
  it('a model with a decoder returns each block as RGB frames, handed over in order', async () => {
    const m = await loadModel(tinyDir, { threads: 2, decoder: 'test/fixtures/taehv_tiny' });
    expect(m.decoder).not.toBeNull();
    const s = m.createSession({ seed: 1, prompt: day });
    const seen: number[] = [];
    const b0 = await s.step({ onFrame: (f) => seen.push(f.index) });
    expect(b0.images.length).toBe(9); // the decoder trims its start-up frames
    expect(b0.images[0]!.rgb.length).toBe(16 * 16 * 3);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const b1 = await s.step();
    expect(b1.images.map((f) => f.index)).toEqual(Array.from({ length: 12 }, (_, i) => 9 + i));
    expect(b1.decodeMs).toBeGreaterThan(0);
    expect(b1.firstFrameMs).toBeGreaterThan(0);
    expect(b1.firstFrameMs).toBeLessThanOrEqual(b1.latencyMs);
    // latent-by-latent decoding equals decoding each block whole on a separate stream
    const ref = m.decoder!.createStream();
    const r = m.createSession({ seed: 1, prompt: day });
    const rb0 = await r.step({ decode: false });
    const rb1 = await r.step({ decode: false });
    const whole = [...(await ref.decodeBlock(rb0)).frames, ...(await ref.decodeBlock(rb1)).frames];
    expect(whole.length).toBe(21);
    [...b0.images, ...b1.images].forEach((f, i) => expect(f.rgb.equals(whole[i]!), `frame ${i}`).toBe(true));
    await Promise.all([ref.close(), r.close()]);
    // a fork's video continues from the parent's decoder state: same seed → the same frames
    const f = await s.fork();
    const [pb, fb] = [await s.step(), await f.step()];
    expect(fb.images.map((x) => x.index)).toEqual(pb.images.map((x) => x.index));
    fb.images.forEach((x, i) => expect(x.rgb.equals(pb.images[i]!.rgb)).toBe(true));
    await f.close();
    expect((await s.step({ decode: false })).images).toEqual([]);
    const many = await m.stepMany([{ session: s }]);
    expect((many[0] as { images: unknown[] }).images.length).toBe(12);
    await s.close();
    m.close();
    expect(m.decoder!.closed).toBe(true);
  });
});

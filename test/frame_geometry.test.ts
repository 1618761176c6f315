// A world model whose video decoder takes a geometry map per frame (a TAEHV config with
// "geometry"; test/decoder.test.ts holds the decoder to the reference): model.actionSpace /
// session.actionSpace report the map (`frameGeometry`), ActionInput.frameGeometry carries
// each frame's, and every path where the SDK decodes a session's frames itself (step,
// stepMany, commit({decode: true})) hands each frame its map — or refuses before anything runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';

import {
  ArgumentError,
  checkFrameGeometry,
  encodeFrameGeometry,
  frameGeometrySize,
  loadModel,
  type ActionInput,
  type ActionSpace,
  type Model,
} from '../sdk/src/index.js';
import { fixtures, randoms } from './helpers/fixtures.js';

const tinyDir = join(fixtures, 'tiny');
const geoDecoder = join(fixtures, 'taehv_geo_s2'); // G = 3, scale 2, samples 2, near 6; 3 space upscalings
const plainDecoder = join(fixtures, 'taehv_tiny');
const G = 3;
const MAP = 32; // tiny's 8x8 latents -> 64x64 frames -> a 32x32 map
const mapSize = G * MAP * MAP;

/** Frame f's map of a block of F frames (distinct per frame and per seed). */
const mapOf = (seed: number, f: number) => randoms(mapSize, 1000 * seed + f).map((v) => 0.5 + 0.5 * v);
const inputs = (seed: number, F = 3): ActionInput[] => Array.from({ length: F }, (_, f) => ({ keys: ['w'], frameGeometry: mapOf(seed, f) }));
const cat = (maps: Float32Array[]) => {
  const out = new Float32Array(maps.length * mapSize);
  maps.forEach((m, f) => out.set(m, f * mapSize));
  return out;
};

describe('frameGeometry: a model whose decoder takes a geometry map', () => {
  let model: Model;
  let plain: Model;
  beforeAll(async () => {
    model = await loadModel(tinyDir, { threads: 2, decoder: geoDecoder });
    plain = await loadModel(tinyDir, { threads: 1, decoder: plainDecoder });
  });
  afterAll(() => {
    model.close();
    plain.close();
  });

  it('model.actionSpace and session.actionSpace report the map at their latent size; a plain decoder adds none', async () => {
    const want = { channels: G, width: MAP, height: MAP, samples: 2, near: 6 };
    expect(model.actionSpace?.frameGeometry).toEqual(want);
    expect(model.actionSpace?.keys).toEqual(model.config.action?.keys);
    expect(model.config.action?.frameGeometry).toBeUndefined(); // config.json as written
    const s = model.createSession({ seed: 1 });
    expect(s.actionSpace?.frameGeometry).toEqual(want);
    const small = model.createSession({ seed: 1, latentHeight: 4, latentWidth: 6 });
    expect(small.actionSpace?.frameGeometry).toEqual({ ...want, width: 24, height: 16 });
    const child = await s.fork();
    expect(child.actionSpace?.frameGeometry).toEqual(want);
    expect(plain.actionSpace?.frameGeometry).toBeUndefined();
    expect(plain.actionSpace?.keys).toEqual(model.actionSpace?.keys);
    await Promise.all([s.close(), small.close(), child.close()]);
  });

  it('step decodes each frame with its map: the frames of decoding the block with those maps', async () => {
    const s = model.createSession({ seed: 7 });
    const blocks = [];
    const all: Float32Array[] = [];
    for (let b = 0; b < 2; b++) {
      const acts = inputs(b);
      all.push(...acts.map((a) => a.frameGeometry!));
      const block = await s.step({ actions: acts });
      expect(block.images.length).toBe(3);
      blocks.push(block);
    }
    // the same latents through a fresh stream, whole blocks at once with the same maps
    const ref = model.decoder!.createStream();
    for (let b = 0; b < 2; b++) {
      const blk = blocks[b]!;
      const d = await ref.decodeBlock(blk, { geometry: cat(all.slice(3 * b, 3 * b + 3)) });
      d.frames.forEach((f, i) => expect(Buffer.compare(f, blk.images[i]!.rgb), `block ${b} frame ${i}`).toBe(0));
    }
    // and the maps matter: other maps, other frames
    const other = model.decoder!.createStream();
    const d0 = await other.decodeBlock(blocks[0]!, { geometry: cat([mapOf(9, 0), mapOf(9, 1), mapOf(9, 2)]) });
    expect(Buffer.compare(d0.frames[0]!, blocks[0]!.images[0]!.rgb)).not.toBe(0);
    await Promise.all([s.close(), ref.close(), other.close()]);
  });

  it('one ActionInput for the whole block gives every frame its map; encoded rows take step({frameGeometry})', async () => {
    const m = mapOf(3, 0);
    const a = model.createSession({ seed: 2 });
    const one = await a.step({ actions: { keys: ['w'], frameGeometry: m } });
    const b = model.createSession({ seed: 2 });
    const rows = await b.step({ actions: new Float32Array(3 * 7), frameGeometry: cat([m, m, m]) });
    const c = model.createSession({ seed: 2 });
    const each = await c.step({ actions: [0, 1, 2].map(() => ({ keys: ['w'], frameGeometry: m })) });
    each.images.forEach((f, i) => expect(Buffer.compare(f.rgb, one.images[i]!.rgb)).toBe(0));
    expect(rows.images.length).toBe(3);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('a step that would decode without every frame\'s map is an ArgumentError before it runs; nothing changes', async () => {
    const s = model.createSession({ seed: 5 });
    const bad: [() => Promise<unknown>, RegExp][] = [
      [() => s.step(), /takes a geometry map per frame.*3x32x32/],
      [() => s.step({ actions: { keys: ['w'] } }), /takes a geometry map per frame/],
      [() => s.step({ actions: [inputs(1)[0]!, { keys: ['a'] }, inputs(1)[2]!] }), /frame 1: no frameGeometry/],
      [() => s.step({ actions: [{ frameGeometry: new Float32Array(mapSize - 1) }, ...inputs(1, 2)] }), /frame 0: frameGeometry must be a Float32Array of 3x32x32 = 3072 floats/],
      [() => s.step({ actions: [{ frameGeometry: Array.from(mapOf(1, 0)) as unknown as Float32Array }, ...inputs(1, 2)] }), /must be a Float32Array/],
      [() => s.step({ actions: [{ frameGeometry: mapOf(1, 0).fill(NaN, 7, 8) }, ...inputs(1, 2)] }), /frameGeometry\[7\] is NaN, not a finite number/],
      [() => s.step({ actions: [{ frameGeometry: mapOf(1, 0).fill(Infinity, 0, 1) }, ...inputs(1, 2)] }), /not a finite number/],
      [() => s.step({ actions: inputs(1), frameGeometry: cat(inputs(1).map((a) => a.frameGeometry!)) }), /given twice/],
      [() => s.step({ actions: new Float32Array(21), frameGeometry: new Float32Array(mapSize) }), /3 frames x 3x32x32 = 9216 floats/],
      [() => s.step({ actions: inputs(1, 2) }), /got actions for 2 frames; a block has 3/],
      [() => s.commit(randoms(4 * 3 * 64, 1), new Float32Array(21), { decode: true }), /commit\(\{decode: true\}\).*takes a geometry map per frame/],
      [() => s.commit(randoms(4 * 3 * 64, 1), new Float32Array(21), { decode: true, frameGeometry: new Float32Array(5) }), /commit: frameGeometry must be a Float32Array of 3 frames/],
      [() => model.stepMany([{ session: s, actions: inputs(1) }, { session: s, actions: { keys: ['w'] } }]), /takes a geometry map per frame/],
    ];
    for (const [call, re] of bad) {
      const e = await call().then(() => null, (x: unknown) => x as Error);
      expect(e, String(re)).toBeInstanceOf(ArgumentError);
      expect(e!.message).toMatch(re);
    }
    // nothing ran: the session is at frame 0 and its video starts at frame 0
    expect((await s.stats()).nextFrame).toBe(0);
    const ok = await s.step({ actions: inputs(1) });
    expect([ok.frameStart, ok.images[0]!.index, ok.images.length]).toEqual([0, 0, 3]);
    // decode: false needs no maps (and the decoder stream does not see the block)
    const quiet = await s.step({ decode: false });
    expect([quiet.frameStart, quiet.images.length]).toEqual([3, 0]);
    await s.close();
  });

  it('openingActions may carry the decoder maps (unused: the opening is committed, not decoded)', async () => {
    const opening = randoms(4 * 3 * 64, 21);
    const a = model.createSession({ seed: 6, opening, openingActions: inputs(8) });
    const b = model.createSession({ seed: 6, opening, openingActions: inputs(8).map(({ frameGeometry: _, ...rest }) => rest) });
    const [x, y] = await Promise.all([a.step({ actions: inputs(9) }), b.step({ actions: inputs(9) })]);
    expect([x.frameStart, x.images.length]).toEqual([3, 3]);
    x.images.forEach((f, i) => expect(Buffer.compare(f.rgb, y.images[i]!.rgb)).toBe(0));
    // a plain model still refuses a map it has no use for
    expect(() => plain.createSession({ seed: 6, opening, openingActions: inputs(8) })).toThrow(/takes no geometry map/);
    await Promise.all([a.close(), b.close()]);
  });

  it('commit({decode: true}) decodes the committed frames with their maps', async () => {
    const s = model.createSession({ seed: 4 });
    const x0 = randoms(4 * 3 * 64, 12);
    const maps = cat([mapOf(5, 0), mapOf(5, 1), mapOf(5, 2)]);
    const frames = await s.commit(x0, new Float32Array(21), { decode: true, frameGeometry: maps });
    expect(frames.length).toBe(3);
    const ref = model.decoder!.createStream();
    const d = await ref.decode(x0, 3, 8, 8, { geometry: maps });
    d.frames.forEach((f, i) => expect(Buffer.compare(f, frames[i]!.rgb)).toBe(0));
    // without decode no maps are needed
    expect(await s.commit(x0, new Float32Array(21))).toEqual([]);
    const next = await s.step({ actions: inputs(2) });
    expect(next.frameStart).toBe(6);
    await Promise.all([s.close(), ref.close()]);
  });

  it('stepMany hands each session its maps', async () => {
    const a = model.createSession({ seed: 11 });
    const b = model.createSession({ seed: 11 });
    const [ra, rb] = await model.stepMany([
      { session: a, actions: inputs(1) },
      { session: b, actions: inputs(2) },
    ]);
    if (ra instanceof Error || rb instanceof Error) throw ra instanceof Error ? ra : rb;
    expect(Buffer.compare(Buffer.from(ra.latents.buffer, ra.latents.byteOffset, ra.latents.byteLength), Buffer.from(rb.latents.buffer, rb.latents.byteOffset, rb.latents.byteLength))).toBe(0); // same seed and actions
    expect(Buffer.compare(ra.images[0]!.rgb, rb.images[0]!.rgb)).not.toBe(0); // other maps
    const ref = model.decoder!.createStream();
    const d = await ref.decodeBlock(rb, { geometry: cat(inputs(2).map((x) => x.frameGeometry!)) });
    d.frames.forEach((f, i) => expect(Buffer.compare(f, rb.images[i]!.rgb)).toBe(0));
    await Promise.all([a.close(), b.close(), ref.close()]);
  });

  it('a model whose decoder takes no map refuses one', async () => {
    const s = plain.createSession({ seed: 1 });
    await expect(s.step({ actions: { keys: ['w'], frameGeometry: new Float32Array(4) } })).rejects.toThrow(/decoder takes no geometry map/);
    await expect(s.step({ frameGeometry: new Float32Array(4) })).rejects.toThrow(ArgumentError);
    expect((await s.step()).images.length).toBeGreaterThan(0);
    await s.close();
  });
});

describe('frameGeometry encoding', () => {
  const space: ActionSpace = { mode: 'additive', keys: ['w'], mouse: [], frameGeometry: { channels: 2, width: 3, height: 2, samples: 1, near: 8 } };
  it('one input applies to every frame, an array gives one per frame; the maps are copied', () => {
    expect(frameGeometrySize(space)).toBe(12);
    expect(frameGeometrySize({ ...space, frameGeometry: undefined })).toBe(0);
    const m = Float32Array.from({ length: 12 }, (_, i) => i);
    const all = encodeFrameGeometry({ frameGeometry: m }, space, 2)!;
    expect(Array.from(all)).toEqual([...m, ...m]);
    m[0] = 99;
    expect(all[0]).toBe(0);
    expect(encodeFrameGeometry({ keys: ['w'] }, space, 2)).toBeUndefined();
    const two = encodeFrameGeometry([{ frameGeometry: m }, { frameGeometry: m.map((v) => -v) }], space, 2)!;
    expect([two[0], two[12], two[23]]).toEqual([99, -99, -11]);
    expect(() => encodeFrameGeometry({ frameGeometry: m }, { ...space, frameGeometry: undefined }, 1)).toThrow(/takes no geometry map/);
    expect(Array.from(checkFrameGeometry(new Float32Array(24).fill(1), space, 2))).toEqual(new Array(24).fill(1));
    expect(() => checkFrameGeometry(new Float32Array(23), space, 2)).toThrow(/2 frames x 2x2x3 = 24 floats/);
    expect(() => checkFrameGeometry(new Float32Array(24).fill(NaN), space, 2)).toThrow(ArgumentError);
  });
});

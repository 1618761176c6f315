// LV-Bench-style manifests, run specs and the scripted actions.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { mulberry32, scriptedActions } from '../tools/lvbench/actions.js';
import { actionAt, captionAt, hashSeed, ManifestError, parseManifest, readManifest, type ActionSegment } from '../tools/lvbench/manifest.js';
import { DEFAULT_RUN, parseRuns, parseRunsFile, PRESETS } from '../tools/lvbench/runs.js';
import { root } from './helpers/fixtures.js';

const video = (extra: Record<string, unknown> = {}) => ({
  video_id: 'v1',
  duration: 10,
  captions: [
    { start: 0, end: 2.5, text: 'day' },
    { start: 2.5, end: 5, text: 'dusk' },
    { start: 6, end: 10, text: 'night' },
  ],
  ...extra,
});

describe('manifest', () => {
  it('reads videos with timed captions, defaults and aliases', () => {
    const m = parseManifest(JSON.stringify({ name: 'm', videos: [video(), { id: 'v2', duration: 3, captions: [{ start: 0, end: 3, caption: 'fog' }], seed: 5, split: 'eval', opening: 'fog/1' }] }));
    expect(m.name).toBe('m');
    expect(m.videos.map((v) => v.id)).toEqual(['v1', 'v2']);
    expect(m.videos[0]!.seed).toBe(hashSeed('v1'));
    expect(m.videos[0]!.actions).toBeNull();
    expect(m.videos[1]).toMatchObject({ seed: 5, split: 'eval', opening: 'fog/1', captions: [{ start: 0, end: 3, text: 'fog' }] });
  });
  it('reads a bare array and JSON Lines', () => {
    expect(parseManifest(JSON.stringify([video()])).videos).toHaveLength(1);
    const jsonl = [video(), video({ video_id: 'v2' })].map((v) => JSON.stringify(v)).join('\n');
    expect(parseManifest(jsonl, 'x.jsonl').videos.map((v) => v.id)).toEqual(['v1', 'v2']);
  });
  it('gives clear errors for malformed manifests', () => {
    const bad = (v: unknown): (() => unknown) => () => parseManifest(JSON.stringify({ videos: [v] }), 'm.json');
    expect(bad({ duration: 3, captions: [{ start: 0, end: 1, text: 'a' }] })).toThrow(/m.json video 0: "video_id" must be a non-empty string/);
    expect(bad(video({ duration: -1 }))).toThrow(/"duration" must be > 0/);
    expect(bad(video({ duration: '10' }))).toThrow(/"duration" must be a finite number/);
    expect(bad(video({ captions: [] }))).toThrow(/"captions" must be a non-empty array/);
    expect(bad(video({ captions: [{ start: 0, end: 2 }] }))).toThrow(/caption 0: "text" must be a non-empty string/);
    expect(bad(video({ captions: [{ start: 3, end: 2, text: 'a' }] }))).toThrow(/"end" \(2\) must be after "start" \(3\)/);
    expect(bad(video({ captions: [{ start: 0, end: 3, text: 'a' }, { start: 2, end: 4, text: 'b' }] }))).toThrow(/captions overlap/);
    expect(bad(video({ captions: [{ start: 20, end: 30, text: 'a' }] }))).toThrow(/after the video's 10 s/);
    expect(bad(video({ split: 'test' }))).toThrow(/"split" must be "train" or "eval"/);
    expect(bad(video({ video_id: 'a/b' }))).toThrow(/must be letters, digits/);
    expect(bad(video({ actions: [{ start: 0, end: 1, keys: 'w' }] }))).toThrow(/"keys" must be an array/);
    expect(() => parseManifest(JSON.stringify({ videos: [video(), video()] }))).toThrow(/"v1" appears twice/);
    expect(() => parseManifest('{"videos": []}')).toThrow(/no videos/);
    expect(() => parseManifest('{"clips": [1]}')).toThrow(/expected \{"videos"/);
    expect(() => parseManifest('not json', 'x.json')).toThrow(ManifestError);
    expect(() => parseManifest('')).toThrow(/empty manifest/);
    expect(() => readManifest('/nonexistent/m.json')).toThrow(/cannot read manifest/);
  });
  it('holds the caption in force: inside, in gaps (the last one), before the first (the first)', () => {
    const caps = parseManifest(JSON.stringify([video({ captions: [{ start: 1, end: 2.5, text: 'day' }, { start: 2.5, end: 5, text: 'dusk' }, { start: 6, end: 10, text: 'night' }] })])).videos[0]!.captions;
    expect(captionAt(caps, 0).text).toBe('day');
    expect(captionAt(caps, 2.4999).text).toBe('day');
    expect(captionAt(caps, 2.5).text).toBe('dusk');
    expect(captionAt(caps, 5.5).text).toBe('dusk');
    expect(captionAt(caps, 6).text).toBe('night');
    expect(captionAt(caps, 99).text).toBe('night');
  });
  it('finds the action segment in force, none in gaps', () => {
    const a: ActionSegment[] = [
      { start: 0, end: 1, keys: ['w'], mouse: {} },
      { start: 2, end: 3, keys: ['a'], mouse: { dx: 0.5 } },
    ];
    expect(actionAt(a, 0.5)?.keys).toEqual(['w']);
    expect(actionAt(a, 1.5)).toBeNull();
    expect(actionAt(a, 2)?.mouse).toEqual({ dx: 0.5 });
  });
  it('the sample manifest is valid and uses only the default model\'s prompts', () => {
    const m = readManifest(join(root, 'tools', 'lvbench', 'sample', 'manifest.json'));
    expect(m.videos.length).toBeGreaterThanOrEqual(2);
    for (const v of m.videos) {
      expect(v.duration).toBeGreaterThanOrEqual(20);
      for (const c of v.captions) expect(['day', 'dusk', 'night', 'fog']).toContain(c.text);
      for (const c of v.captions) expect(c.end - c.start).toBeLessThanOrEqual(3);
    }
    expect(m.videos.some((v) => new Set(v.captions.map((c) => c.text)).size > 1)).toBe(true);
  });
});

describe('scripted actions', () => {
  it('walk forward with gentle turns, deterministic per seed, covering the video', () => {
    const a = scriptedActions(42, 30);
    expect(a).toEqual(scriptedActions(42, 30));
    expect(a).not.toEqual(scriptedActions(43, 30));
    expect(a[0]!.start).toBe(0);
    expect(a.at(-1)!.end).toBeGreaterThanOrEqual(30);
    for (let i = 0; i < a.length; i++) {
      expect(a[i]!.keys).toEqual(['w']);
      expect(Math.abs(a[i]!.mouse.dx!)).toBeLessThanOrEqual(0.3);
      expect(a[i]!.end - a[i]!.start).toBeGreaterThanOrEqual(1);
      expect(a[i]!.end - a[i]!.start).toBeLessThanOrEqual(3);
      if (i) expect(a[i]!.start).toBe(a[i - 1]!.end);
    }
    expect(() => scriptedActions(1, 0)).toThrow(/positive length/);
  });
  it('mulberry32 is uniform-ish in [0, 1)', () => {
    const r = mulberry32(7);
    const xs = Array.from({ length: 2000 }, r);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(Math.abs(xs.reduce((a, b) => a + b, 0) / xs.length - 0.5)).toBeLessThan(0.03);
  });
});

describe('runs', () => {
  it('resolves presets', () => {
    const [a, b, c] = parseRuns('f32,int8,fold');
    expect(a).toEqual({ name: 'f32', ...DEFAULT_RUN, kvDtype: 'f32' });
    expect(b!.kvDtype).toBe('int8');
    expect(c!.foldCommit).toBe(true);
    expect(parseRuns('window6sink3')[0]).toMatchObject({ localAttnSize: 6, sinkSize: 3 });
    for (const name of Object.keys(PRESETS)) expect(parseRuns(name)[0]!.name).toBe(name);
  });
  it('builds named runs from tokens', () => {
    expect(parseRuns('w6=int8+window:6+sink:3+fold+weights:int8')[0]).toEqual({ name: 'w6', kvDtype: 'int8', localAttnSize: 6, sinkSize: 3, foldCommit: true, weights: 'int8' });
    expect(parseRuns('g=window:-1')[0]!.localAttnSize).toBe(-1);
  });
  it('takes names from a runs file', () => {
    const named = parseRunsFile(JSON.stringify({ mine: { kvDtype: 'int8', localAttnSize: 9 } }));
    expect(parseRuns('mine,f32', named)[0]).toMatchObject({ name: 'mine', kvDtype: 'int8', localAttnSize: 9, foldCommit: false });
    const dir = mkdtempSync(join(tmpdir(), 'lvruns-'));
    try {
      writeFileSync(join(dir, 'r.json'), '{"x": {"kvDtype": "fp8"}}');
      expect(() => parseRunsFile('{"x": {"kvDtype": "fp8"}}', 'r.json')).toThrow(/r.json run "x": kv must be one of f32, bf16, int8/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => parseRunsFile('{"x": {"window": 3}}')).toThrow(/unknown field "window"/);
  });
  it('rejects bad specs clearly', () => {
    expect(() => parseRuns('bogus')).toThrow(/unknown run token "bogus"/);
    expect(() => parseRuns('a=kv:fp8')).toThrow(/kv must be one of/);
    expect(() => parseRuns('a=window:0')).toThrow(/window must be/);
    expect(() => parseRuns('a=window:x')).toThrow(/expected a whole number/);
    expect(() => parseRuns('f32,f32')).toThrow(/appears twice/);
    expect(() => parseRuns('')).toThrow(/no runs/);
    expect(() => parseRuns('a/b=f32')).toThrow(/run name/);
  });
});

// The LV-Bench driving loop (continuous prompts through the SDK) on the tiny fixture model, and
// `npm run lvbench` end to end on the default model with a 2-s manifest: report, strips, resume.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadModel, TablePromptEncoder, type Model } from '../sdk/src/index.js';
import { main } from '../tools/lvbench/cli.js';
import { generateVideo, videoFps } from '../tools/lvbench/driver.js';
import { parseManifest } from '../tools/lvbench/manifest.js';
import type { Report } from '../tools/lvbench/report.js';
import { parseRuns } from '../tools/lvbench/runs.js';
import { fixtures, root, tinyDir } from './helpers/fixtures.js';

const emb = (v: number): Float32Array => new Float32Array(2 * 32).fill(v);

describe('driver (tiny model)', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(tinyDir, { threads: 2, decoder: join(fixtures, 'taehv_tiny'), promptEncoder: new TablePromptEncoder(new Map([['a', emb(0.1)], ['b', emb(-0.2)]])) });
  });
  afterAll(() => model.close());

  const spec = (captions: { start: number; end: number; text: string }[]) =>
    parseManifest(JSON.stringify([{ video_id: 'v', duration: 2, seed: 3, captions, actions: [{ start: 0, end: 2, keys: ['w'], mouse: { dx: 0.2 } }] }])).videos[0]!;
  const run = parseRuns('f32')[0]!;
  const gen = async (captions: { start: number; end: number; text: string }[], r = run) => {
    const frames: Uint8Array[] = [];
    const stats = await generateVideo(model, spec(captions), r, { seconds: 2, fps: 12, onFrame: (rgb) => frames.push(Uint8Array.from(rgb)) });
    return { frames, stats };
  };

  it('switches the prompt at the first block boundary at or after a caption starts, and stops at seconds × fps frames', async () => {
    expect(videoFps(model)).toBeNull(); // the tiny config has no latent_fps
    const { frames, stats } = await gen([
      { start: 0, end: 1, text: 'a' },
      { start: 1, end: 2, text: 'b' },
    ]);
    // taehv_tiny: 9 frames from the first block, 12 from each later one → blocks start at frames 0, 9, 21
    expect(stats.frames).toBe(24);
    expect(frames).toHaveLength(24);
    expect(stats.blocks).toBe(3);
    expect(stats.prompts).toEqual([
      { t: 0, text: 'a' },
      { t: 21 / 12, text: 'b' },
    ]);
    const steady = await gen([{ start: 0, end: 2, text: 'a' }]);
    expect(steady.stats.prompts).toEqual([{ t: 0, text: 'a' }]);
    // same seed and actions: identical until the switch, different after it
    for (let k = 0; k < 21; k++) expect(frames[k]).toEqual(steady.frames[k]);
    expect(frames.slice(21).some((f, i) => !f.every((v, j) => v === steady.frames[21 + i]![j]))).toBe(true);
    // deterministic
    const again = await gen([
      { start: 0, end: 1, text: 'a' },
      { start: 1, end: 2, text: 'b' },
    ]);
    expect(again.frames).toEqual(frames);
  });

  it('refuses captions the model cannot encode, before generating', async () => {
    await expect(gen([{ start: 0, end: 2, text: 'sunset' }])).rejects.toThrow(/video "v": caption "sunset" \(at 0 s\): unknown prompt/);
  });
});

describe('npm run lvbench (default model, 2-s videos)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lvbench-'));
  const manifest = join(dir, 'm.json');
  const out = join(dir, 'out');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    manifest,
    JSON.stringify({
      name: 'tiny-sample',
      videos: [
        { video_id: 'a', duration: 2, seed: 1, opening: 'day/0', captions: [{ start: 0, end: 1, text: 'day' }, { start: 1, end: 2, text: 'night' }] },
        { video_id: 'b', duration: 2, seed: 2, opening: 'fog/1', captions: [{ start: 0, end: 2, text: 'fog' }] },
      ],
    }),
  );
  const capture = () => {
    const text: string[] = [];
    return { text, stream: { write: (s: string) => text.push(s) } };
  };
  const args = ['--manifest', manifest, '--runs', 'f32,int8', '--out', out, '--threads', '2', '--model', join(root, 'models', 'default')];

  it('generates, scores and writes the report; a rerun resumes from disk', async () => {
    const o = capture();
    const e = capture();
    const rep = (await main(args, { stdout: o.stream, stderr: e.stream })) as Report;
    expect(rep.runs.map((r) => r.name)).toEqual(['f32', 'int8']);
    expect(rep.videos.map((v) => v.id)).toEqual(['a', 'b']);
    expect(rep.settings).toMatchObject({ chunks: 10, fps: 15, width: 128, height: 128 });
    const a = rep.videos[0]!.runs.f32!;
    expect(a.generation.frames).toBe(30);
    expect(a.generation.prompts.map((p) => p.text)).toEqual(['day', 'night']);
    for (const v of rep.videos)
      for (const r of ['f32', 'int8']) {
        const s = v.runs[r]!.scores;
        expect(s.map((x) => x.scorer)).toEqual(['clarity', 'motion', 'subject', 'background']);
        for (const x of s) {
          expect(x.error).toBeNull();
          expect(x.chunks).toHaveLength(10);
          expect(x.vde).toBeGreaterThanOrEqual(0);
        }
      }
    for (const r of ['f32', 'int8']) for (const s of ['clarity', 'motion', 'subject', 'background']) expect(rep.summary[r]![s]!.videos).toBe(2);
    expect(o.text.join('')).toMatch(/LV-Bench VDE \(N = 10 chunks/);
    expect(e.text.join('')).toMatch(/lvbench \[/); // the progress bar
    // files
    const json = JSON.parse(readFileSync(join(out, 'report', 'report.json'), 'utf8')) as Report;
    expect(json.summary.f32!.clarity!.vde).toBeCloseTo(rep.summary.f32!.clarity!.vde!, 12);
    const html = readFileSync(join(out, 'report', 'index.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('src="strips/a.png"');
    expect((html.match(/<svg/g) ?? []).length).toBe(4 + 2 * 4); // mean curves + per-video curves
    const meta = await sharp(join(out, 'report', 'strips', 'a.png')).metadata();
    expect([meta.width, meta.height]).toEqual([10 * 128 + 11 * 2, 2 * 128 + 3 * 2]);

    // rerun: nothing generated or scored again
    const framesFile = join(out, 'videos', 'f32', 'a', 'frames.rgb');
    const mtime = statSync(framesFile).mtimeMs;
    const e2 = capture();
    const rep2 = (await main(args, { stdout: capture().stream, stderr: e2.stream })) as Report;
    expect(e2.text.join('').match(/done earlier/g)).toHaveLength(4);
    expect(e2.text.join('')).toMatch(/0 frames to generate/);
    expect(statSync(framesFile).mtimeMs).toBe(mtime);
    expect(rep2.videos[0]!.runs.f32!.scores.every((s) => s.cached)).toBe(true);
    expect(rep2.summary).toEqual(rep.summary);
  });

  it('fails clearly on a manifest the model cannot run', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify([{ video_id: 'x', duration: 2, captions: [{ start: 0, end: 2, text: 'a sunny beach' }] }]));
    await expect(main(['--manifest', bad, '--runs', 'f32', '--out', out, '--threads', '2'], { stdout: capture().stream, stderr: capture().stream })).rejects.toThrow(/caption "a sunny beach".*unknown prompt/);
    await expect(main(['--manifest', manifest, '--runs', 'w3=window:3', '--out', out, '--threads', '2'], { stdout: capture().stream, stderr: capture().stream })).rejects.toThrow(/run "w3": .*local_attn_size \(3\) must exceed/);
    writeFileSync(bad, '{"videos": [{"video_id": "x", "captions": []}]}');
    await expect(main(['--manifest', bad], { stdout: capture().stream, stderr: capture().stream })).rejects.toThrow(/"duration" must be a finite number/);
    await expect(main(['--runs', 'f32'], { stdout: capture().stream, stderr: capture().stream })).rejects.toThrow(/--manifest is required/);
  });
});

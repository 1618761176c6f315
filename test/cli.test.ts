// The headless render CLI writes an animated WebP and PNG frames, and explains bad use.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';

import { root } from './helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'wc-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(root, 'examples', 'render', 'cli.ts'), 'render', ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });

describe('worldcast render', () => {
  it('renders scripted blocks to an animated WebP', async () => {
    writeFileSync(join(dir, 'script.json'), JSON.stringify([{ keys: ['w'] }, { keys: ['a'], mouse: { dx: 0.5 } }]));
    const out = join(dir, 'out.webp');
    const r = cli('--model', 'test/fixtures/tiny', '--decoder', 'test/fixtures/taehv_tiny', '--actions', join(dir, 'script.json'), '--blocks', '3', '--out', out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/3\/3 blocks, 33 frames/);
    const meta = await sharp(out, { animated: true }).metadata();
    expect([meta.pages, meta.width, meta.pageHeight]).toEqual([33, 16, 16]);
  });
  it('writes PNG frames to a directory', () => {
    const out = join(dir, 'frames') + '/';
    const r = cli('--model', 'test/fixtures/tiny', '--decoder', 'test/fixtures/taehv_tiny', '--blocks', '2', '--out', out);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(out).length).toBe(21);
    expect(existsSync(join(out, 'frame_00020.png'))).toBe(true);
  });
  it('says what is wrong', () => {
    expect(cli('--model', 'test/fixtures/tiny', '--blocks', '1').stderr).toMatch(/names no decoder: pass --decoder DIR/);
    expect(cli('--model', 'test/fixtures/tiny', '--decoder', 'test/fixtures/taehv_tiny', '--blocks', '0').stderr).toMatch(/--blocks must be an integer >= 1/);
    expect(cli('--model', 'nope', '--decoder', 'test/fixtures/taehv_tiny').stderr).toMatch(/config\.json: cannot open/);
  });
});

// `npm run load` end to end (issue 18): it starts a server child on the tiny fixture model,
// joins real @colyseus/sdk clients over loopback and reports what each one received. The
// tiny model steps far faster than the world clock, so every client plays at the clock's
// rate: the frames/s it prints while playing must be within 10% of that rate, the first
// frame's delay is its own column, and every byte and frame is accounted for. (With the tiny
// model the start-up is short, so this does not tell the old whole-run count from the new
// one; it holds the tool to working end to end.)
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import { root } from './helpers/fixtures.js';

const run = promisify(execFile);

describe('npm run load on the tiny model', () => {
  it('reports frames/s while playing at the world clock, the first frame apart, bytes, blocks and no errors', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', join(root, 'gameserver', 'src', 'load.ts'), '--model', join(root, 'test', 'fixtures', 'tiny'), '--decoder', 'none', '--clients', '2', '--duration', '6', '--threads', '1'],
      { cwd: root, timeout: 90_000, env: { ...process.env, WORLDCAST_LOG: 'off' } },
    );
    const clock = /world clock: ([\d.]+) frames\/s \(([\d.]+) ms a frame\)/.exec(stdout);
    expect(clock, stdout).not.toBeNull();
    const worldFps = Number(clock![1]);
    expect(worldFps).toBeGreaterThan(1);
    // client  frames  frames/s playing  first frame ms  KiB/s  hdr B/frame  p50  p99  dropped  gaps  errors
    const rows = [...stdout.matchAll(/^ +(\d+) +(\d+) +([\d.]+) +(\d+) +([\d.]+) +(\d+) +([\d.]+) +([\d.]+) +(\d+) +(\d+) +(\d+)$/gm)];
    expect(rows.map((r) => Number(r[1])), stdout).toEqual([0, 1]);
    for (const r of rows) {
      const [frames, playing, firstMs, kib, hdr, , , dropped, gaps, errors] = r.slice(2).map(Number) as number[];
      expect(playing, stdout).toBeGreaterThanOrEqual(0.9 * worldFps);
      expect(playing, stdout).toBeLessThanOrEqual(1.1 * worldFps);
      expect(frames).toBeGreaterThanOrEqual(Math.floor(5 * worldFps));
      expect(firstMs).toBeGreaterThan(0);
      expect(kib).toBeGreaterThan(0);
      expect(hdr).toBeGreaterThan(50); // the envelope header of every frame, counted
      expect(hdr).toBeLessThanOrEqual(300);
      expect([dropped, gaps, errors]).toEqual([0, 0, 0]);
    }
    expect(stdout).toMatch(/frames\/s in all while playing/);
    expect(stdout).toMatch(/over the whole run, start-up included/);
    expect(stdout).toMatch(/engine: \d+ blocks in \d+ batched steps/);
    expect(stdout).toMatch(/^errors: 0$/m);
  }, 120_000);
});

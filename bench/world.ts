/**
 * The default world model (models/default) as a player gets it (`npm run bench -- world`):
 * one session started from a spawn point's opening, blocks stepped back to back while
 * walking and turning, each block decoded to 128×128 RGB frames by the model's TAEHV
 * decoder. Reports decoded frames/s (median over blocks), the time from step() to the
 * block's first frame, and the DiT/decoder split, with the commit pass folded and not.
 * The demo's room paces blocks to the world clock (`latent_fps`, 15 frames/s); frames/s
 * above that is headroom. `npm run load -- --clients 1` measures the paced path end to end.
 */
import { existsSync } from 'node:fs';

import { loadModel } from '../sdk/src/index.js';
import { median } from './common.js';

const DIR = 'models/default';

export async function runWorldBench(): Promise<unknown> {
  if (!existsSync(`${DIR}/config.json`)) throw new Error(`${DIR} is missing`);
  const rows = [];
  for (const foldCommit of [false, true]) {
    const model = await loadModel(DIR, { threads: 2 });
    const s = model.createSession({ seed: 1, prompt: 'day', opening: 'day/0', foldCommit });
    const F = model.config.num_frame_per_block;
    const moves = [{ keys: ['w'] }, { keys: ['w'], mouse: { dx: 0.3 } }, { keys: ['a'] }, { keys: [], mouse: { dx: -0.3 } }];
    for (let i = 0; i < 3; i++) await s.step({ actions: moves[i % moves.length]! });
    const ms: number[] = [], dec: number[] = [], first: number[] = [], stepMs: number[] = [];
    for (let i = 0; i < 60; i++) {
      const t0 = performance.now();
      const b = await s.step({ actions: moves[(i >> 2) % moves.length]! });
      ms.push(performance.now() - t0);
      dec.push(b.decodeMs);
      first.push(b.firstFrameMs);
      stepMs.push(1000 * Object.values(b.times).reduce((a, x) => a + x, 0));
    }
    await s.close();
    model.close();
    const r = { foldCommit, blockMs: median(ms), stepMs: median(stepMs), decodeMs: median(dec), firstFrameMs: median(first), framesPerBlock: F, fps: (F * 1000) / median(ms) };
    rows.push(r);
    console.log(
      `default world (${DIR}), 2 threads, foldCommit ${foldCommit}: ${r.blockMs.toFixed(1)} ms per block of ${F} frames (DiT ${r.stepMs.toFixed(1)} ms, decode ${r.decodeMs.toFixed(1)} ms, first frame after ${r.firstFrameMs.toFixed(1)} ms) → ${r.fps.toFixed(1)} frames/s`,
    );
  }
  return { suite: 'world', model: DIR, rows };
}

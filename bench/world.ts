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

import { defaultLevel } from '../world/src/levels/index.js';
import { eyeFromCharacter, renderGeometry } from '../world/src/render.js';
import { loadModel, type Model } from '../sdk/src/index.js';
import { median } from './common.js';

const DIR = 'models/default';

export async function runWorldBench(): Promise<unknown> {
  if (!existsSync(`${DIR}/config.json`)) throw new Error(`${DIR} is missing`);
  const rows = [];
  let config: Model['config'] | undefined;
  for (const foldCommit of [false, true]) {
    const model = await loadModel(DIR, { threads: 2 });
    config = model.config;
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
  // A geometry-taking model also needs the game server's map of the view for every frame
  // (renderGeometry at the latent size), drawn on the room's thread while the engine runs.
  const g = config!.action?.geometry;
  const H = config!.latent_height;
  const W = config!.latent_width;
  let geometryMs: number | null = null;
  if (g) {
    const t: number[] = [];
    const out = new Float32Array(g.channels * H * W);
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      renderGeometry(defaultLevel, eyeFromCharacter({ x: (i % 20) - 10, y: 0, z: 3 - (i % 7), yaw: i * 0.37, pitch: 0.05 }), W, H, g, out);
      t.push(performance.now() - t0);
    }
    geometryMs = median(t);
    console.log(`geometry map (${g.channels}×${H}×${W}, ${g.samples}² rays per pixel): ${geometryMs.toFixed(3)} ms per frame on the game server's thread`);
  }
  return { suite: 'world', model: DIR, rows, geometryMs };
}

/**
 * The default world model (models/default) as a player gets it (`npm run bench -- world`):
 * one session started from a spawn point's opening, blocks stepped back to back while
 * walking and turning, each block decoded to 128×128 RGB frames by the model's TAEHV
 * decoder. Reports decoded frames/s (median over blocks), the time from step() to the
 * block's first frame, and the DiT/decoder split, with the commit pass folded and not.
 * The demo's room paces blocks to the world clock (`latent_fps`, 15 frames/s); frames/s
 * above that is headroom. `npm run load -- --clients 1` measures the paced path end to end.
 * A model whose decoder takes the view's geometry gets each frame's decoder map with its
 * actions (drawn before the step, as the room draws it on its tick); the maps' cost on the
 * game server's thread — the DiT's and the decoder's, as poseInputs draws them — is timed
 * on its own.
 */
import { existsSync } from 'node:fs';

import { defaultLevel } from '../world/src/levels/index.js';
import { poseInputs } from '../world/src/conditioning.js';
import { eyeFromCharacter, geometryPoolFactor, renderGeometry } from '../world/src/render.js';
import { loadModel, type ActionInput, type Model, type Pose } from '../sdk/src/index.js';
import { median } from './common.js';

const DIR = 'models/default';

export async function runWorldBench(): Promise<unknown> {
  if (!existsSync(`${DIR}/config.json`)) throw new Error(`${DIR} is missing`);
  const rows = [];
  let config: Model['config'] | undefined;
  let space: Model['actionSpace'] = null;
  for (const foldCommit of [false, true]) {
    const model = await loadModel(DIR, { threads: 2 });
    config = model.config;
    space = model.actionSpace; // config.json's, with the map its decoder takes per frame when it takes one
    const s = model.createSession({ seed: 1, prompt: 'day', opening: 'day/0', foldCommit });
    const F = model.config.num_frame_per_block;
    const moves = [{ keys: ['w'] }, { keys: ['w'], mouse: { dx: 0.3 } }, { keys: ['a'] }, { keys: [], mouse: { dx: -0.3 } }];
    const blockInputs = (i: number, move: ActionInput): ActionInput | ActionInput[] => (space?.frameGeometry ? Array.from({ length: F }, (_, f) => withDecoderMap(model, move, i * F + f)) : move);
    for (let i = 0; i < 3; i++) await s.step({ actions: blockInputs(i, moves[i % moves.length]!) });
    const ms: number[] = [], dec: number[] = [], first: number[] = [], stepMs: number[] = [];
    for (let i = 0; i < 60; i++) {
      const actions = blockInputs(3 + i, moves[(i >> 2) % moves.length]!); // drawn before the step, as the room does on its tick
      const t0 = performance.now();
      const b = await s.step({ actions });
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
  // A geometry-taking model also needs the game server's maps of the view for every frame —
  // the DiT's at the latent size, and its decoder's finer one when the decoder takes the
  // geometry (the DiT's then pooled from it where the rays are the same) — drawn on the
  // room's thread while the engine runs: poseInputs, as the room calls it.
  const g = space?.geometry;
  const d = space?.frameGeometry;
  const H = config!.latent_height;
  const W = config!.latent_width;
  let geometryMs: number | null = null;
  let geometry: { ditMapMs: number | null; decoderMap: string | null; pooled: boolean; allMapsMs: number } | null = null;
  if (space && (g || d)) {
    const view = { level: defaultLevel, latent: { height: H, width: W } };
    const time = (draw: (pose: Pose) => void): number => {
      const t: number[] = [];
      for (let i = 0; i < 200; i++) {
        const pose = benchPose(i);
        const t0 = performance.now();
        draw(pose);
        t.push(performance.now() - t0);
      }
      return median(t);
    };
    const ditMapMs = g ? time((pose) => renderGeometry(defaultLevel, eyeFromCharacter(pose), W, H, g)) : null;
    const allMapsMs = time((pose) => poseInputs(pose, space, { view }));
    const pooled = !!(g && d && geometryPoolFactor(d, { width: W, height: H, samples: g.samples, near: g.near }) > 0);
    geometryMs = allMapsMs;
    geometry = { ditMapMs, decoderMap: d ? `${d.channels}×${d.height}×${d.width}, ${d.samples}² rays per pixel` : null, pooled, allMapsMs };
    if (d && g && ditMapMs !== null) console.log(`geometry map of the DiT alone (${g.channels}×${H}×${W}, ${g.samples}² rays per pixel): ${ditMapMs.toFixed(3)} ms per frame`);
    console.log(
      d
        ? `geometry maps, the decoder's (${geometry.decoderMap})${g ? (pooled ? ' and the DiT\'s pooled from it' : ' and the DiT\'s drawn on its own') : ''}: ${allMapsMs.toFixed(3)} ms per frame on the game server's thread`
        : `geometry map (${g!.channels}×${H}×${W}, ${g!.samples}² rays per pixel): ${allMapsMs.toFixed(3)} ms per frame on the game server's thread`,
    );
  }
  return { suite: 'world', model: DIR, rows, geometryMs, geometry };
}

/** The pose of frame i of the bench's walk (over the default level's yard). */
function benchPose(i: number): Pose {
  return { x: (i % 20) - 10, y: 0, z: 3 - (i % 7), yaw: i * 0.37, pitch: 0.05 };
}

/** `move` with the decoder's map of frame i's pose (a model whose decoder takes the geometry needs one with every frame). */
function withDecoderMap(model: Model, move: ActionInput, i: number): ActionInput {
  const c = model.config;
  const { frameGeometry } = poseInputs(benchPose(i), model.actionSpace!, { view: { level: defaultLevel, latent: { height: c.latent_height, width: c.latent_width } } });
  return { ...move, frameGeometry };
}

/**
 * Step + decode throughput through the SDK (`npm run bench -- frames`): frames/s of the
 * tiny test model with its tiny TAEHV decoder (12 frames of 16×16 per block), blocks
 * stepped one after another, decoding included; median over blocks.
 */
import { loadModel } from '../sdk/src/index.js';
import { median } from './common.js';


export async function runFramesBench(): Promise<unknown> {
  const model = await loadModel('test/fixtures/tiny', { threads: 2, decoder: 'test/fixtures/taehv_tiny' });
  const s = model.createSession({ seed: 1, localAttnSize: 12, sinkSize: 3 });
  for (let i = 0; i < 3; i++) await s.step();
  const ms: number[] = [], dec: number[] = [], first: number[] = [];
  for (let i = 0; i < 100; i++) {
    const t0 = performance.now();
    const b = await s.step({ actions: { keys: i % 2 ? ['w'] : [] } });
    ms.push(performance.now() - t0);
    dec.push(b.decodeMs);
    first.push(b.firstFrameMs);
  }
  await s.close();
  model.close();
  const r = { blockMs: median(ms), decodeMs: median(dec), firstFrameMs: median(first), framesPerBlock: 12, fps: (12 * 1000) / median(ms) };
  console.log(`\nstep + decode, tiny model + tiny TAEHV (12 frames of 16×16 per block), 2 threads: ${r.blockMs.toFixed(2)} ms per block (decode ${r.decodeMs.toFixed(2)} ms, first frame after ${r.firstFrameMs.toFixed(2)} ms) → ${r.fps.toFixed(0)} frames/s`);
  return { suite: 'frames', ...r };
}

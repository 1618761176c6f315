/**
 * Profiler overhead (`npm run bench -- profiler`): block steps with recording off and on,
 * interleaved, median of each; the target is under 1%.
 */
import { loadModel, profiler } from '../sdk/src/index.js';
import { median } from './common.js';


export async function runProfilerBench(): Promise<unknown> {
  const model = await loadModel('test/fixtures/tiny', { threads: 2 });
  const s = model.createSession({ seed: 1, localAttnSize: 12, sinkSize: 3 });
  for (let i = 0; i < 5; i++) await s.step();
  const off: number[] = [];
  const on: number[] = [];
  let events = 0;
  for (let i = 0; i < 60; i++) {
    const t0 = performance.now();
    await s.step();
    off.push(performance.now() - t0);
    profiler.start();
    const t1 = performance.now();
    await s.step();
    on.push(performance.now() - t1);
    events += profiler.stop().events.length;
  }
  await s.close();
  model.close();
  const r = { offMs: median(off), onMs: median(on), overheadPercent: (100 * (median(on) - median(off))) / median(off), eventsPerBlock: events / 60 };
  console.log(`\nprofiler overhead (tiny model, a block is ${r.eventsPerBlock.toFixed(0)} events): off ${r.offMs.toFixed(3)} ms, on ${r.onMs.toFixed(3)} ms per block (median of 60 each, interleaved) → ${r.overheadPercent.toFixed(2)}%`);
  return { suite: 'profiler', ...r };
}

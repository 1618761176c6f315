// The profiler: native and SDK scopes on one clock, a summary, a Chrome trace.
import { describe, expect, it } from 'vitest';

import { loadModel, profiler } from '../sdk/src/index.js';
import { tinyDir } from './helpers/fixtures.js';

describe('profiler', () => {
  it('records step, forward, layer, gemm, attention and SDK spans, nested on one clock', async () => {
    const m = await loadModel(tinyDir, { threads: 2 });
    const s = m.createSession({ seed: 1 });
    await s.step(); // warm: nothing recorded while off
    profiler.start();
    await s.step({ actions: { keys: ['w'] } });
    const p = profiler.stop();
    await s.step();
    const names = new Set(p.events.map((e) => e.name));
    for (const n of ['step', 'forward', 'layer', 'gemm', 'self_attention', 'cross_attention', 'kv_begin_block', 'sdk_step', 'encode_actions'])
      expect(names, n).toContain(n);
    const rows = p.summary();
    expect(rows.find((r) => r.name === 'forward')!.count).toBe(5);
    expect(rows.find((r) => r.name === 'layer')!.count).toBe(10);
    expect(rows.find((r) => r.name === 'step')!.count).toBe(1);
    const step = p.events.find((e) => e.name === 'step')!;
    const sdk = p.events.find((e) => e.name === 'sdk_step')!;
    for (const f of p.events.filter((e) => e.name === 'forward')) {
      expect(f.ts).toBeGreaterThanOrEqual(step.ts);
      expect(f.ts + f.dur).toBeLessThanOrEqual(step.ts + step.dur + 1);
    }
    expect(sdk.ts).toBeLessThanOrEqual(step.ts);
    expect(sdk.ts + sdk.dur).toBeGreaterThanOrEqual(step.ts + step.dur);
    expect(p.table()).toMatch(/\| forward \| model \| 5 \|/);
    const trace = p.toChromeTrace();
    expect(trace.traceEvents.length).toBe(p.events.length);
    expect(JSON.parse(JSON.stringify(trace)).traceEvents[0]).toMatchObject({ ph: 'X', pid: 1 });
    // off again: nothing accumulates
    profiler.start();
    expect(profiler.stop().events.length).toBe(0);
    await s.close();
    m.close();
  });
});

// One forward workspace per engine thread: a model's sessions share its activation
// buffers, so the reported workspace stays flat as sessions are added, and sharing it
// changes no result.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadModel, type Model } from '../sdk/src/index.js';
import { goldenCases, goldenTensors, relErr, tensor, tinyDir } from './helpers/fixtures.js';

const g = goldenTensors(goldenCases().cases[0]!);
const prompt = tensor(g, 'prompt.0');
let model: Model;

beforeAll(async () => {
  model = await loadModel(tinyDir, { threads: 2, kv: { dtype: 'f32' } });
});
afterAll(() => model.close());

describe('forward workspace', () => {
  it('is reported, fixed per engine, and flat across 100 sessions', async () => {
    const info0 = model.info();
    expect(info0.attentionScratchBytes).toBeGreaterThan(0);
    // a session alone on a fresh engine: the reference rollout
    const alone = await loadModel(tinyDir, { threads: 2, kv: { dtype: 'f32' } });
    const solo = alone.createSession({ seed: 42, prompt });
    const ref = [(await solo.step()).latents, (await solo.step()).latents];
    await solo.close();
    alone.close();

    // one session, two blocks (the second attends to committed pages): the workspace a
    // forward of this shape needs
    const first = model.createSession({ seed: 1, prompt });
    await first.step();
    await first.step();
    const one = model.info().workspaceBytes;
    expect(one).toBeGreaterThan(0);

    const sessions = [first];
    for (let i = 1; i < 100; i++) sessions.push(model.createSession({ seed: 1 + i, prompt }));
    const tracked = model.createSession({ seed: 42, prompt });
    await Promise.all(sessions.slice(1).map((s) => s.step()));
    const got0 = (await tracked.step()).latents;
    await Promise.all(sessions.slice(1).map((s) => s.step()));
    const got1 = (await tracked.step()).latents;
    const many = model.info().workspaceBytes;
    expect(many).toBe(one);
    expect(model.info().attentionScratchBytes).toBe(info0.attentionScratchBytes);
    // sharing the workspace with 100 other sessions changes nothing
    expect(relErr(got0, ref[0]!)).toBe(0);
    expect(relErr(got1, ref[1]!)).toBe(0);
    await Promise.all([...sessions, tracked].map((s) => s.close()));
  }, 120_000);
});

import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadModel, type Model } from '../sdk/src/index.js';
import {
  Box,
  DISCRETE_ACTIONS,
  Dict,
  Discrete,
  MultiAgentWorldEnv,
  MultiBinary,
  MultiDiscrete,
  VectorWorldEnv,
  WorldEnv,
  batchSpace,
  concatenate,
  goalTask,
  iterate,
  reachGoal,
  spaceFromJSON,
  type SpaceValue,
} from '../env/src/index.js';
import { fixtures, root } from './helpers/fixtures.js';
import { psnr } from '../tools/eval/metrics.js';

let model: Model;
beforeAll(async () => {
  model = await loadModel(join(root, 'models', 'default'), { threads: 2 });
});
afterAll(() => model.close());

const bytes = (o: SpaceValue): Uint8Array => o as Uint8Array;
const same = (a: SpaceValue, b: SpaceValue): boolean => Buffer.compare(Buffer.from(bytes(a)), Buffer.from(bytes(b))) === 0;
const FORWARD = 1;
const TURN_RIGHT = DISCRETE_ACTIONS.findIndex((a) => a.name === 'turn_right');
const walk = (k: number, i = 0): number => [FORWARD, TURN_RIGHT, FORWARD, DISCRETE_ACTIONS.findIndex((a) => a.name === 'forward_left')][(k + i) % 4]!;

describe('spaces', () => {
  it('check, contain, sample and describe themselves', () => {
    const box = new Box(-1, 1, [2], 'float32');
    expect(box.contains([0.5, -1])).toBe(true);
    expect(box.contains([0.5, 2])).toBe(false);
    expect(() => box.check([0, 1.5], 'mouse')).toThrow(/mouse\[1\] = 1.5 is outside \[-1, 1\]/);
    expect(() => box.check([0], 'mouse')).toThrow(/expected 2 values/);
    expect(() => box.check('x', 'mouse')).toThrow(/expected a float32 array/);
    const img = new Box(0, 255, [2, 2, 3], 'uint8');
    expect(() => img.check(new Array(12).fill(1.5))).toThrow(/not an integer/);
    const d = new Discrete(4, 1);
    expect(d.contains(4)).toBe(true);
    expect(() => d.check(5, 'action')).toThrow(/action = 5 is outside \[1, 4\]/);
    expect(() => d.check(1.5)).toThrow(/integer/);
    const mb = new MultiBinary(3);
    expect(() => mb.check([0, 2, 1], 'keys')).toThrow(/keys\[1\] = 2 is not 0 or 1/);
    const dict = new Dict({ keys: mb, mouse: box });
    expect(() => dict.check({ keys: [0, 0, 1] })).toThrow(/missing key "mouse"/);
    expect(() => dict.check({ keys: [0, 0, 1], mouse: [0, 0], jump: 1 })).toThrow(/unknown key "jump"/);
    dict.seed(7);
    const s1 = dict.sample();
    dict.seed(7);
    expect(dict.sample()).toEqual(s1);
    expect(dict.contains(s1)).toBe(true);
    for (let i = 0; i < 50; i++) expect(img.contains(img.sample())).toBe(true);
    expect(spaceFromJSON(JSON.parse(JSON.stringify(dict.toJSON())) as never).toJSON()).toEqual(dict.toJSON());
  });

  it('batch, concatenate and iterate as gymnasium.vector.utils', () => {
    const dict = new Dict({ keys: new MultiBinary(2), mouse: new Box(-1, 1, [1]) });
    const b = batchSpace(dict, 3) as Dict;
    expect((b.spaces.mouse as Box).shape).toEqual([3, 1]);
    const items = [dict.sample(), dict.sample(), dict.sample()];
    const stacked = concatenate(dict, items);
    expect(b.contains(stacked)).toBe(true);
    expect(iterate(dict, stacked, 3)).toEqual(items);
    expect((batchSpace(new Discrete(5), 2) as MultiDiscrete).nvec).toEqual([5, 5]);
    expect(() => iterate(new Discrete(5), [1, 9], 2)).toThrow(/actions\[1\] = 9 is outside/);
  });
});

describe('WorldEnv', () => {
  it('derives its spaces from the model, and is deterministic: same seed and actions, same observations', async () => {
    const env = await WorldEnv.create(model, { observation: { latents: true } });
    const obsSpace = env.observationSpace as Dict;
    expect((obsSpace.spaces.frame as Box).shape).toEqual([128, 128, 3]);
    expect((obsSpace.spaces.latents as Box).shape).toEqual([8, 3, 16, 16]);
    const act = env.actionSpace as Dict;
    expect((act.spaces.keys as MultiBinary).shape).toEqual([5]);
    expect((act.spaces.mouse as Box).shape).toEqual([2]);
    const run = async (): Promise<SpaceValue[]> => {
      const [o0] = await env.reset({ seed: 42 });
      const out = [o0];
      for (let k = 0; k < 4; k++) out.push((await env.step({ keys: [1, 0, 0, k % 2, 0], mouse: [0.3, 0] }))[0]);
      return out;
    };
    const a = await run();
    const b = await run();
    for (let k = 0; k < a.length; k++) {
      const x = a[k] as Record<string, SpaceValue>;
      const y = b[k] as Record<string, SpaceValue>;
      expect(same(x.frame!, y.frame!), `step ${k}`).toBe(true);
      expect(x.latents).toEqual(y.latents);
      expect(env.observationSpace.contains(x)).toBe(true);
    }
    // Another seed: another episode (spawn and noise).
    const [o] = await env.reset({ seed: 43 });
    expect(same((o as Record<string, SpaceValue>).frame!, (a[0] as Record<string, SpaceValue>).frame!)).toBe(false);
    await env.close();
  });

  it('refuses bad actions with a clear error and loses nothing', async () => {
    const env = await WorldEnv.create(model, { spawn: 0 });
    const ref = await WorldEnv.create(model, { spawn: 0 });
    await env.reset({ seed: 1 });
    await ref.reset({ seed: 1 });
    await expect(env.step({ keys: [1, 0, 0, 0, 0], mouse: [2, 0] })).rejects.toThrow(/action.mouse\[0\] = 2 is outside \[-1, 1\]/);
    await expect(env.step({ keys: [1, 0, 0, 0] })).rejects.toThrow(/action.keys: expected 5 values/);
    await expect(env.step(3)).rejects.toThrow(/expected an object with keys keys, mouse/);
    await expect(env.reset({ options: { spawn: 99 } })).rejects.toThrow(/spawn must be an integer in \[0, 7\]/);
    await expect(env.reset({ options: { prompt: 'sunset' } })).rejects.toThrow(/unknown prompt "sunset"; this model knows: day, dusk, fog, night/);
    await expect(WorldEnv.create(model, { spawn: 8 })).rejects.toThrow(/spawn must be 'random' or an integer in \[0, 7\]/);
    const good = { keys: [1, 0, 0, 0, 0], mouse: [0, 0] };
    const [o1, , , , i1] = await env.step(good);
    const [o2, , , , i2] = await ref.step(good);
    expect(same(o1, o2)).toBe(true);
    expect(i1.pose).toEqual(i2.pose);
    await Promise.all([env.close(), ref.close()]);
  });

  it('rewards and ends episodes from the physics: goal reached (terminated), time limit (truncated)', async () => {
    // Spawn 0 is at (0, 0) facing -Z; the goal is 3 m ahead.
    const env = await WorldEnv.create(model, { spawn: 0, actionType: 'discrete', reward: [reachGoal({ center: [0, -3], radius: 0.5 })], maxEpisodeSteps: 20, renderTruth: true });
    await env.reset({ seed: 3 });
    let r = await env.step(FORWARD);
    expect(r[4].pose.z).toBeLessThan(-0.5);
    expect(r[4].truth?.length).toBe(128 * 128 * 3);
    let steps = 1;
    while (!r[2] && !r[3]) {
      r = await env.step(FORWARD);
      steps++;
    }
    expect(r[2]).toBe(true); // terminated at the goal, 4 m/s × 0.2 s per step → 4 steps
    expect(r[1]).toBe(1);
    expect(steps).toBe(4);
    await expect(env.step(FORWARD)).rejects.toThrow(/episode has ended; call reset/);
    const lim = await WorldEnv.create(model, { actionType: 'discrete', maxEpisodeSteps: 2 });
    await lim.reset({ seed: 1 });
    expect((await lim.step(0))[3]).toBe(false);
    const last = await lim.step(0);
    expect(last[2]).toBe(false);
    expect(last[3]).toBe(true);
    await Promise.all([env.close(), lim.close()]);
  });

  it("'frame' granularity shows the frames 'block' shows when an action is held over a block (a pose model's previews within 30 dB)", async () => {
    const blockEnv = await WorldEnv.create(model, { actionType: 'discrete', spawn: 2, observation: { frames: 'all' } });
    const frameEnv = await WorldEnv.create(model, { actionType: 'discrete', spawn: 2, granularity: 'frame' });
    const F = model.config.num_frame_per_block;
    expect((blockEnv.observationSpace as Box).shape).toEqual([F, 128, 128, 3]);
    const [b0] = await blockEnv.reset({ seed: 9 });
    const [f0] = await frameEnv.reset({ seed: 9 });
    expect(same(bytes(b0).subarray((F - 1) * 128 * 128 * 3), f0)).toBe(true);
    for (let blk = 0; blk < 2; blk++) {
      const [bo, , , , bi] = await blockEnv.step(walk(blk));
      for (let j = 0; j < F; j++) {
        const [fo, , , , fi] = await frameEnv.step(walk(blk));
        const want = bytes(bo).subarray(j * 49152, (j + 1) * 49152);
        // a pose-taking model's previews hold the last pose for the frames physics has not run yet
        if (j === F - 1 || !model.config.action?.pose) expect(same(want, fo), `block ${blk} frame ${j}`).toBe(true);
        else expect(psnr(bytes(fo), want), `block ${blk} frame ${j}`).toBeGreaterThan(30);
        if (j === F - 1) expect(fi.pose).toEqual(bi.pose);
      }
    }
    await Promise.all([blockEnv.close(), frameEnv.close()]);
  });

  it('frees its KV pages when an episode resets and when it closes', async () => {
    const before = model.kvStats();
    const env = await WorldEnv.create(model, { actionType: 'discrete' });
    await env.reset({ seed: 1 });
    for (let k = 0; k < 3; k++) await env.step(FORWARD);
    expect(model.kvStats().sessions).toBe(before.sessions + 1);
    await env.reset();
    expect(model.kvStats().sessions).toBe(before.sessions + 1);
    await env.close();
    const after = model.kvStats();
    expect(after.sessions).toBe(before.sessions);
    expect(after.pages.used).toBe(before.pages.used);
    await expect(env.step(0)).rejects.toThrow(/closed/);
  });
});

describe('VectorWorldEnv', () => {
  it('equals n single envs stepped alone (one batched forward), autoreset included', async () => {
    const n = 3;
    const opts = { actionType: 'discrete' as const, maxEpisodeSteps: 3, reward: goalTask([0, -6]) };
    const vec = await VectorWorldEnv.create(model, n, opts);
    const singles = await Promise.all(Array.from({ length: n }, () => WorldEnv.create(model, opts)));
    const [vo, vinfo] = await vec.reset({ seed: 100 });
    const so = await Promise.all(singles.map((e, i) => e.reset({ seed: 100 + i })));
    const frame = 128 * 128 * 3;
    const slice = (o: SpaceValue, i: number): Uint8Array => bytes(o).subarray(i * frame, (i + 1) * frame);
    expect(vec.observationSpace.contains(vo)).toBe(true);
    for (let i = 0; i < n; i++) {
      expect(same(slice(vo, i), so[i]![0])).toBe(true);
      expect(vinfo[i]!.spawn).toBe(so[i]![1].spawn);
    }
    let singleDone = singles.map(() => false);
    for (let k = 0; k < 5; k++) {
      const acts = Array.from({ length: n }, (_, i) => walk(k, i));
      const [o, rew, term, trunc, infos] = await vec.step(acts);
      for (let i = 0; i < n; i++) {
        if (singleDone[i]) {
          // next-step autoreset: this step reset sub-env i, as reset() (no seed) on the single env.
          const [s0, sInfo] = await singles[i]!.reset();
          expect(same(slice(o, i), s0), `k ${k} env ${i} reset`).toBe(true);
          expect([rew[i], term[i], trunc[i]]).toEqual([0, false, false]);
          expect(infos[i]!.spawn).toBe(sInfo.spawn);
          singleDone[i] = false;
          continue;
        }
        const [s, r, te, tr, si] = await singles[i]!.step(acts[i]);
        expect(same(slice(o, i), s), `k ${k} env ${i}`).toBe(true);
        expect(rew[i]).toBe(r);
        expect([term[i], trunc[i]]).toEqual([te, tr]);
        expect(infos[i]!.pose).toEqual(si.pose);
        singleDone[i] = te || tr;
      }
    }
    await Promise.all([vec.close(), ...singles.map((e) => e.close())]);
  });

  it("'same-step' autoreset returns the new episode's first observation and the final one in info", async () => {
    const vec = await VectorWorldEnv.create(model, 2, { actionType: 'discrete', maxEpisodeSteps: 2, autoresetMode: 'same-step' });
    const single = await WorldEnv.create(model, { actionType: 'discrete', maxEpisodeSteps: 2 });
    await vec.reset({ seed: 5 });
    await single.reset({ seed: 5 });
    await vec.step([1, 1]);
    await single.step(1);
    const [o, , , trunc, infos] = await vec.step([1, 1]);
    const [last] = await single.step(1);
    const [first] = await single.reset();
    expect(trunc).toEqual([true, true]);
    expect(same(bytes(o).subarray(0, 49152), first)).toBe(true);
    expect(same(infos[0]!.final_obs as SpaceValue, last)).toBe(true);
    expect((infos[0]!.final_info as { elapsedSteps: number }).elapsedSteps).toBe(2);
    expect(infos[0]!.elapsedSteps).toBe(0);
    // The next step continues the new episode.
    const [, , , , again] = await vec.step([0, 0]);
    expect(again[0]!.elapsedSteps).toBe(1);
    await Promise.all([vec.close(), single.close()]);
  });

  it("'disabled' autoreset refuses ended sub-envs until reset({resetMask}); batched actions are accepted", async () => {
    const vec = await VectorWorldEnv.create(model, 2, { actionType: 'discrete', maxEpisodeSteps: 1, autoresetMode: 'disabled' });
    await vec.reset({ seed: 1 });
    const [, , , trunc] = await vec.step(Int32Array.from([1, 0]));
    expect(trunc).toEqual([true, true]);
    await expect(vec.step([0, 0])).rejects.toThrow(/sub-env 0: its episode has ended; reset it with reset\(\{resetMask\}\)/);
    const [, infos] = await vec.reset({ resetMask: [true, false] });
    expect(infos[0]!.elapsedSteps).toBe(0);
    await expect(vec.step([0, 0])).rejects.toThrow(/sub-env 1/);
    await expect(vec.step([0])).rejects.toThrow(/expected 2 \(one per sub-env\), got 1/);
    await vec.close();
  });
});

describe('models an env cannot serve', () => {
  it('refuses a staggered-schedule model (its frames lag its actions) with a clear error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wc-env-stag-'));
    try {
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(fixtures, 'tiny', 'config.json'), 'utf8')), schedule: { type: 'staggered', window: 2 } }));
      copyFileSync(join(fixtures, 'tiny', 'model.safetensors'), join(dir, 'model.safetensors'));
      await expect(WorldEnv.create(dir)).rejects.toThrow(/needs the block schedule: this model's staggered pipeline returns a block's frames 1 step\(s\) after its actions/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('MultiAgentWorldEnv', () => {
  it('puts agents in one world: distinct spawns, shared physics, leaving on done, pages freed', async () => {
    const before = model.kvStats();
    const env = await MultiAgentWorldEnv.create(model, 2, { actionType: 'discrete', maxEpisodeSteps: 3 });
    expect(env.possibleAgents).toEqual(['agent_0', 'agent_1']);
    // Face to face 1 m apart on the z axis: walking forward, they block each other.
    const [obs, infos] = await env.reset({ seed: 2, options: { agent_0: { spawn: 0 }, agent_1: { spawn: 3 } } });
    expect(Object.keys(obs)).toEqual(['agent_0', 'agent_1']);
    expect(infos.agent_0!.spawn).toBe(0);
    expect(model.kvStats().sessions).toBe(before.sessions + 2);
    await expect(env.step({ agent_0: 1 })).rejects.toThrow(/missing an action for "agent_1"/);
    await expect(env.step({ agent_0: 1, agent_1: 1, agent_7: 0 })).rejects.toThrow(/"agent_7" is not a live agent/);
    // agent_1 stands at (0, 2) behind agent_0 (0, 0), both facing -Z: agent_1 walks into agent_0.
    const [, , , , i1] = await env.step({ agent_0: 0, agent_1: 1 });
    expect(i1.agent_1!.pose.z).toBeCloseTo(1.2, 3); // 0.8 m per step, free so far
    expect(i1.agent_1!.blocked).toBe(false);
    const [, , , , i2] = await env.step({ agent_0: 0, agent_1: 1 });
    expect(i2.agent_1!.pose.z).toBeGreaterThan(0.55); // stopped by the other capsule (radius 0.3 each), not at 0.4
    expect(i2.agent_1!.blocked).toBe(true);
    expect(i2.agent_0!.pose.z).toBeCloseTo(0, 1);
    const [, , , trunc] = await env.step({ agent_0: 0, agent_1: 0 });
    expect(trunc).toEqual({ agent_0: true, agent_1: true });
    expect(env.agents).toEqual([]);
    expect(model.kvStats().sessions).toBe(before.sessions);
    await env.close();
    expect(model.kvStats().pages.used).toBe(before.pages.used);
  });
});

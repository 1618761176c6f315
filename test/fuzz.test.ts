// The TypeScript fuzzing engine (fuzz/js/engine.ts) is coverage-guided, and every JS
// harness passes over its committed seed corpus (which holds the inputs of fixed findings).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { fuzz, type Harness } from '../fuzz/js/engine.js';
import { harness as envProtocol } from '../fuzz/js/targets/env_protocol.js';
import { harness as envelope } from '../fuzz/js/targets/envelope.js';
import { harness as messages } from '../fuzz/js/targets/gameserver_messages.js';
import { root } from './helpers/fixtures.js';
import { toy } from './helpers/fuzz_toy.js';

describe('fuzz engine', () => {
  it('finds a 2-byte magic with coverage feedback, and not without it on the same budget', async () => {
    const seeds = [Buffer.from('....')];
    const guided = await fuzz(toy, { seeds, maxTotalTimeMs: 60_000, maxRuns: 30_000, seed: 7 });
    expect([...guided.finding!.data.subarray(0, 2)]).toEqual([0xde, 0xcb]);
    expect(guided.corpus).toBeGreaterThan(1); // the first matched byte joined the corpus
    // the same run with its feedback pointed at a file that never executes: the same seeded
    // mutations, but nothing ever joins the corpus
    const blind = await fuzz({ ...toy, coverage: ['no/such/file.ts'] }, { seeds, maxTotalTimeMs: 60_000, maxRuns: guided.runs, seed: 7 });
    expect(blind.finding).toBeUndefined();
    expect(blind.corpus).toBe(1);
  });
});

describe('fuzz harnesses over their committed corpus', () => {
  const cases: [string, Harness][] = [['gameserver_messages', messages], ['envelope', envelope], ['env_protocol', envProtocol]];
  for (const [name, h] of cases)
    it(name, async () => {
      const dir = join(root, 'fuzz', 'corpus', name);
      const seeds = readdirSync(dir).map((f) => readFileSync(join(dir, f)));
      expect(seeds.length).toBeGreaterThan(2);
      const r = await fuzz(h, { seeds, maxTotalTimeMs: 60_000, maxRuns: seeds.length });
      expect(r.finding?.error).toBeUndefined();
      expect(r.runs).toBe(seeds.length);
      expect(r.features).toBeGreaterThan(0);
    });
});

// The shipped addon (build/Release/worldcast.node, what the SDK loads) holds the public API
// only: no kernel test hooks and no setIsa, which would let any program that loads the
// package flip the process-wide ISA. The hooks live in worldcast_testing.node.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { addonPath, native } from '../sdk/src/native.js';
import { gemmPaths, loadModel } from '../sdk/src/index.js';
import { defaultServerWeights } from '../gameserver/src/engine.js';
import { root, tinyDir } from './helpers/fixtures.js';
import { nativeTesting, testingAddonPath } from './helpers/native_testing.js';

// The public API, sorted: the one list scripts/prebuild.mjs checks a prebuilt addon against.
const SHIPPED = JSON.parse(readFileSync(join(root, 'native', 'addon', 'public_api.json'), 'utf8')) as string[];
const HOOK_NAMES = ['setIsa', 'parseSafetensors', 'benchGemm', 'benchAttention', 'quantizeI8', 'frameToU8', 'upsample2'];

describe('shipped addon', () => {
  it('exports exactly the public API', () => {
    const a = native() as unknown as Record<string, unknown>;
    expect(Object.keys(a).sort()).toEqual(SHIPPED);
    expect(Object.keys(a.profiler as object).sort()).toEqual(['now', 'start', 'stop']);
    expect(a.testing).toBeUndefined();
    expect(a.decoderTesting).toBeUndefined();
  });

  it('gemmPaths tells the kernel family each weight storage runs, as a loaded model reports it', async () => {
    const paths = gemmPaths();
    expect(Object.keys(paths).sort()).toEqual(['bf16', 'f32', 'int8']);
    for (const weights of ['f32', 'bf16', 'int8'] as const) {
      const m = await loadModel(tinyDir, { threads: 1, weights });
      expect(m.info().gemmPath, weights).toBe(paths[weights]);
      m.close();
    }
    expect(defaultServerWeights()).toBe(paths.int8 === 'int8_dot' || paths.int8 === 'int8_amx' ? 'int8' : 'f32');
  });

  it('does not even contain the test hooks (their names are absent from the binary)', () => {
    const shipped = readFileSync(addonPath()).toString('latin1');
    const testing = readFileSync(testingAddonPath()).toString('latin1');
    for (const name of HOOK_NAMES) {
      expect(shipped.includes(name), name).toBe(false);
      expect(testing.includes(name), name).toBe(true); // the probe can find them where they are
    }
  });

  it('the test addon is the same API plus the hooks', () => {
    const t = nativeTesting() as unknown as Record<string, unknown>;
    expect(Object.keys(t).sort()).toEqual([...SHIPPED, 'decoderTesting', 'testing'].sort());
  });
});

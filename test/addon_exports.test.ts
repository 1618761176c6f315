// The shipped addon (build/Release/worldcast.node, what the SDK loads) holds the public API
// only: no kernel test hooks and no setIsa, which would let any program that loads the
// package flip the process-wide ISA. The hooks live in worldcast_testing.node.
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { addonPath, native } from '../sdk/src/native.js';
import { nativeTesting, testingAddonPath } from './helpers/native_testing.js';

const SHIPPED = ['Decoder', 'DecoderStream', 'Model', 'Session', 'profiler'];
const HOOK_NAMES = ['setIsa', 'parseSafetensors', 'benchGemm', 'benchAttention', 'quantizeI8', 'frameToU8', 'upsample2'];

describe('shipped addon', () => {
  it('exports exactly the public API', () => {
    const a = native() as unknown as Record<string, unknown>;
    expect(Object.keys(a).sort()).toEqual(SHIPPED);
    expect(Object.keys(a.profiler as object).sort()).toEqual(['now', 'start', 'stop']);
    expect(a.testing).toBeUndefined();
    expect(a.decoderTesting).toBeUndefined();
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

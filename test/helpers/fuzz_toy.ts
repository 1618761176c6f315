// A fuzz target with a planted bug behind two nested byte comparisons (test/fuzz.test.ts):
// matching the first byte reaches a new block, which coverage feedback keeps in the corpus;
// without feedback both bytes must come right in one mutation. The bytes are msgpack
// markers (in the engine's interesting-byte list) to keep the test short.
import type { Harness } from '../../fuzz/js/engine.js';

export const toy: Harness = {
  name: 'toy',
  coverage: ['test/helpers/fuzz_toy.ts'],
  fuzz(d: Buffer): void {
    if (d.length >= 2 && d[0] === 0xde) {
      if (d[1] === 0xcb) throw new Error('planted bug');
    }
  },
};

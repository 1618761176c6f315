// The game server's block-size controller (gameserver/src/block_size.ts), as a pure function
// of the engine's load and the measured engine time per frame of each size.
import { describe, expect, it } from 'vitest';

import { BlockSizer } from '../gameserver/src/block_size.js';

describe('BlockSizer', () => {
  it('starts at the largest block, shrinks a frame at a time with room, grows a frame at a time above `high`, waits `holdMs` between changes', () => {
    const s = new BlockSizer(1, 3, { high: 0.85, low: 0.7, holdMs: 1000 });
    expect(s.frames).toBe(3);
    expect(s.next(0.9, 0)).toBe(3); // busy: stays
    expect(s.next(0.2, 10)).toBe(2); // 0.2 × 3/2 = 0.3 < low
    expect(s.next(0.2, 500)).toBe(2); // held
    expect(s.next(0.2, 1011)).toBe(1);
    expect(s.next(0.1, 3000)).toBe(1); // the least it takes
    expect(s.next(0.9, 4100)).toBe(2);
    expect(s.next(0.99, 4500)).toBe(2); // held
    expect(s.next(0.99, 5101)).toBe(3);
    expect(s.next(0.99, 9000)).toBe(3); // the most it takes
  });

  it('shrinks only when the smaller block is predicted to stay under `low`, from the measured cost per frame', () => {
    const s = new BlockSizer(1, 3, { high: 0.85, low: 0.7, holdMs: 0 });
    expect(s.frames).toBe(3);
    // unmeasured 2: guessed at (3/2)^(1/3) the time per frame: 0.62 → 0.71, not under 0.7
    expect(s.predict(0.62, 2)).toBeCloseTo(0.62 * Math.cbrt(1.5), 9);
    expect(s.next(0.62, 2)).toBe(3);
    expect(s.next(0.6, 3)).toBe(2); // 0.687
    // measured: a 1-frame block costs 1.6× a 2-frame block's per frame
    s.record(2, 0.1); // 50 ms a frame
    s.record(1, 0.08); // 80 ms a frame
    expect(s.predict(0.5, 1)).toBeCloseTo(0.8, 9);
    expect(s.next(0.5, 4)).toBe(2); // 0.8 > low: stays
    expect(s.next(0.4, 5)).toBe(1); // 0.64 < low
    expect(s.next(0.01, 6)).toBe(1); // the least it takes
  });

  it('a fixed size never moves; bad bounds are refused', () => {
    const s = new BlockSizer(3, 3);
    expect(s.next(0.99, 0)).toBe(3);
    expect(s.next(0, 10_000)).toBe(3);
    expect(() => new BlockSizer(0, 3)).toThrow(RangeError);
    expect(() => new BlockSizer(3, 2)).toThrow(RangeError);
    expect(() => new BlockSizer(1, 3, { high: 0.5, low: 0.7 })).toThrow(RangeError);
  });
});

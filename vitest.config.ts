import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The native engine owns its threads; run test files one at a time on this 2-core box.
    fileParallelism: false,
    pool: 'forks',
  },
});

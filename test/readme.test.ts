// The README's "Use it from TypeScript" example is examples/quickstart.ts, verbatim, and runs.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { root } from './helpers/fixtures.js';

describe('README example', () => {
  const code = readFileSync(join(root, 'examples', 'quickstart.ts'), 'utf8');
  it('is in the README word for word', () => {
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain('```ts\n' + code + '```');
  });
  it('runs as written', () => {
    // `import 'worldcast'` resolves to this package's built entry point (dist/, made by
    // `npm install` and by `npm test`), as it does for a user of the package.
    try {
      const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'examples', 'quickstart.ts')], {
        cwd: root,
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(r.stderr).not.toMatch(/Error/);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/block 3: 12 frames of 16×16/);
      expect(r.stdout).toMatch(/block 0: 9 frames of 16×16/);
      expect(JSON.parse(readFileSync(join(root, 'trace.json'), 'utf8')).traceEvents.length).toBeGreaterThan(10);
    } finally {
      rmSync(join(root, 'trace.json'), { force: true });
    }
  });
});

/**
 * Where the package is on disk: a developer's checkout, or node_modules/worldcast of a
 * project that installed it. The addon (sdk/src/native.ts) and the default world model
 * are found from here, never from the working directory.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root: the nearest folder above this file holding its package.json and CMakeLists.txt. */
export function packageRoot(): string {
  // From sdk/src (tsx/vitest in a checkout) or dist/sdk/src (compiled, as published).
  const here = dirname(fileURLToPath(import.meta.url));
  let dir = here;
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'CMakeLists.txt'))) return dir;
    dir = resolve(dir, '..');
  }
  return resolve(here, '..', '..');
}

/**
 * The default world model the package carries (`models/default`: DiT, its decoder, prompts
 * and openings), as an absolute path: `loadModel(defaultModelDir())` works from any
 * working directory. The game server and the CLIs default to it.
 */
export function defaultModelDir(): string {
  return join(packageRoot(), 'models', 'default');
}

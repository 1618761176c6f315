// What the published package declares (package.json) holds together: every entry point and
// the install script are in `files`, the dev-only folders are not, and the SDK's addon
// resolution is the documented one (README "Install"). The packed tarball itself is
// installed and run by test/consumer/run.sh (npm run test:consumer, in CI).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { addonPath, prebuiltFolder } from '../sdk/src/native.js';
import { defaultModelDir, packageRoot } from '../sdk/src/package_root.js';
import { root } from './helpers/fixtures.js';

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  files: string[];
  exports: Record<string, string | { types: string; default: string }>;
  bin: Record<string, string>;
  main: string;
  types: string;
  scripts: Record<string, string>;
  engines: { node: string };
};
const included = (path: string) => {
  const p = path.replace(/^\.\//, '');
  if (p === 'package.json') return true; // npm always packs it
  const yes = pkg.files.filter((f) => !f.startsWith('!')).some((f) => p === f || p.startsWith(f + '/'));
  const no = pkg.files.filter((f) => f.startsWith('!')).some((f) => p === f.slice(1) || p.startsWith(f.slice(1) + '/') || (f.endsWith('*.map') && p.endsWith('.map')));
  return yes && !no;
};

describe('package.json', () => {
  it('ships every entry point, the install script and the prebuilt addon', () => {
    const targets = [pkg.main, pkg.types, ...Object.values(pkg.bin), ...Object.values(pkg.exports).flatMap((e) => (typeof e === 'string' ? [e] : [e.types, e.default]))];
    for (const t of targets) expect(included(t), t).toBe(true);
    expect(pkg.scripts.install).toBe('node scripts/install.mjs');
    expect(included('scripts/install.mjs')).toBe(true);
    expect(included('prebuilds/linux-x64/worldcast.node')).toBe(true);
    expect(pkg.scripts.prepack).toBe('node scripts/prebuild.mjs');
    for (const src of ['CMakeLists.txt', 'native/engine/session.cpp', 'native/addon/addon.cpp', 'models/default/model.safetensors', 'models/default/decoder/config.json'])
      expect(included(src), src).toBe(true);
  });

  it('leaves out what users do not run', () => {
    for (const dev of ['tools/train', 'test/fixtures/tiny', 'bench/run.ts', 'fuzz/js', 'examples/web-client/src', 'sdk/src/index.ts', 'gameserver/src/room.ts', 'native/addon/testing.cpp', 'native/addon/decoder_testing.cpp', 'models/default/eval/strip.png', 'dist/sdk/src/index.js.map', 'build/Release/worldcast_testing.node'])
      expect(included(dev), dev).toBe(false);
  });

  it('supports the Node versions its dependencies do (22 LTS from 22.12, 24 LTS)', () => {
    expect(pkg.engines.node).toBe('^22.12.0 || >=24.0.0');
  });
});

describe('addon resolution', () => {
  const saved = process.env.WORLDCAST_ADDON;
  afterEach(() => {
    if (saved === undefined) delete process.env.WORLDCAST_ADDON;
    else process.env.WORLDCAST_ADDON = saved;
  });

  it('finds the package root and its default model from the SDK, not the working directory', () => {
    expect(packageRoot()).toBe(root);
    expect(existsSync(join(defaultModelDir(), 'config.json'))).toBe(true);
  });

  it('takes $WORLDCAST_ADDON, else a source build in build/Release before the prebuilt binary', () => {
    process.env.WORLDCAST_ADDON = '/somewhere/else.node';
    expect(addonPath()).toBe('/somewhere/else.node');
    delete process.env.WORLDCAST_ADDON;
    // A checkout always has a source build (npm install builds it); it wins over prebuilds/.
    expect(addonPath()).toBe(join(root, 'build', 'Release', 'worldcast.node'));
    expect(prebuiltFolder()).toBe(`${process.platform}-${process.arch}`);
  });
});

#!/usr/bin/env node
// npm's `install` step for worldcast (package.json "install"). No download, ever.
//
// 1. A developer's checkout (a .git beside package.json) always builds from source with
//    cmake-js: the tests need build/Release/worldcast_testing.node as well, and what is
//    being worked on must be what runs.
// 2. An installed package keeps the prebuilt binary it carries (prebuilds/<platform>-<arch>/
//    worldcast.node, linux-x64 glibc) when that binary loads on this host: nothing is compiled.
// 3. Otherwise (another platform, a libc the binary does not load with) or when asked
//    (`npm install worldcast --build-from-source`, npm_config_build_from_source=true, or
//    WORLDCAST_BUILD_FROM_SOURCE=1) it compiles build/Release/worldcast.node with cmake-js,
//    which needs a C++17 compiler and cmake. The SDK loads build/Release first when present
//    (sdk/src/native.ts), so a source build always wins over the prebuilt binary.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const yes = (v) => v !== undefined && v !== '' && !/^(0|false|no)$/i.test(v);
// npm hands `--build-from-source` to scripts as npm_config_build_from_source ("true", or the
// package names it applies to, as prebuild-install and node-gyp-build read it).
const flag = process.env.npm_config_build_from_source;
const askedForSource = process.argv.includes('--build-from-source')
  ? '--build-from-source'
  : yes(process.env.WORLDCAST_BUILD_FROM_SOURCE)
    ? 'WORLDCAST_BUILD_FROM_SOURCE'
    : flag !== undefined && (/^(true|1|)$/i.test(flag) || flag.split(',').map((s) => s.trim()).includes('worldcast'))
      ? 'npm --build-from-source'
      : null;

const log = (msg) => console.log(`worldcast: ${msg}`);

/** Does the binary load in a fresh Node of this host? (A child process: a crash there cannot end the install.) */
function loads(path) {
  const r = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(path)}); if (typeof a.Model !== 'function') process.exit(3);`], { encoding: 'utf8' });
  return { ok: r.status === 0, why: (r.stderr || '').trim().split('\n').find((l) => /Error|error/.test(l)) ?? `exit ${r.status ?? r.signal}` };
}

function buildFromSource(reason) {
  log(`building the native addon from source (${reason}): cmake-js compile --release`);
  let cmakeJs;
  try {
    cmakeJs = createRequire(join(root, 'package.json')).resolve('cmake-js/bin/cmake-js');
  } catch {
    console.error('worldcast: cmake-js is missing (it is a dependency of worldcast): reinstall the package');
    process.exit(1);
  }
  const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--release'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(
      'worldcast: the source build failed. It needs a C++17 compiler and cmake >= 3.20 ' +
        '(Debian/Ubuntu: apt-get install -y g++ cmake make; macOS: xcode-select --install && brew install cmake).',
    );
    process.exit(r.status ?? 1);
  }
  log(`built ${relative(process.cwd(), join(root, 'build', 'Release', 'worldcast.node')) || 'build/Release/worldcast.node'}`);
}

const prebuilt = join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'worldcast.node');
if (existsSync(join(root, '.git'))) buildFromSource('a source checkout');
else if (askedForSource) buildFromSource(`asked for: ${askedForSource}`);
else if (!existsSync(prebuilt)) buildFromSource(`no prebuilt binary for ${process.platform}-${process.arch}`);
else {
  const r = loads(prebuilt);
  if (r.ok) log(`using the prebuilt addon prebuilds/${process.platform}-${process.arch}/worldcast.node (Node-API 9)`);
  else buildFromSource(`the prebuilt binary does not load here: ${r.why}`);
}

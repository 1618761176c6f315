#!/usr/bin/env node
// `prepack`: make the prebuilt addon the package carries, prebuilds/linux-x64/worldcast.node
// (the prebuildify / node-gyp-build layout). A portable Release build: x86-64 baseline with
// the SIMD kernels picked at run time (never -march=native), Node-API 9 (one binary for
// every supported Node), libstdc++/libgcc linked in (WORLDCAST_PREBUILD), so it needs
// nothing of the user's machine but glibc. Built in build-prebuild/ (the developer's
// build/ stays as it is) and checked before it is copied: it loads, it exports exactly the
// public API, and it links no libstdc++.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const target = `${process.platform}-${process.arch}`;
const fail = (msg) => {
  console.error(`worldcast prebuild: ${msg}`);
  process.exit(1);
};

if (target !== 'linux-x64') {
  // The package's one prebuilt binary is linux-x64 glibc; a tarball packed elsewhere would lack it.
  if (process.env.WORLDCAST_SKIP_PREBUILD === '1') {
    console.warn(`worldcast prebuild: skipped on ${target} (WORLDCAST_SKIP_PREBUILD=1): the package has no prebuilt binary, installs compile`);
    process.exit(0);
  }
  fail(`the package's prebuilt binary is linux-x64 and this is ${target}; pack on linux-x64, or set WORLDCAST_SKIP_PREBUILD=1 for a package without it`);
}

const cmakeJs = createRequire(join(root, 'package.json')).resolve('cmake-js/bin/cmake-js');
const args = [cmakeJs, 'compile', '--release', '--out', 'build-prebuild', '--target', 'worldcast_addon', '--CDWORLDCAST_PREBUILD=ON', '--CDWORLDCAST_NATIVE=OFF', '--CDWORLDCAST_SANITIZE=OFF'];
console.log(`worldcast prebuild: cmake-js ${args.slice(1).join(' ')}`);
const b = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (b.status !== 0) fail(`the build failed (exit ${b.status ?? b.signal})`);

const built = join(root, 'build-prebuild', 'Release', 'worldcast.node');
const bytes = readFileSync(built).toString('latin1');
if (bytes.includes('GLIBCXX_') || bytes.includes('libstdc++.so')) fail(`${built} links libstdc++ dynamically (WORLDCAST_PREBUILD did not apply)`);
const glibc = [...new Set(bytes.match(/GLIBC_2\.[0-9]+(\.[0-9]+)?/g) ?? [])].sort((x, y) => {
  const a = x.slice(6).split('.').map(Number), c = y.slice(6).split('.').map(Number);
  return a[1] - c[1] || (a[2] ?? 0) - (c[2] ?? 0);
});
// The glibc the binary may need at most (README "Install"): pthread_* moved into libc in 2.34.
const MAX_GLIBC = [2, 34];
const need = glibc.at(-1)?.slice(6).split('.').map(Number) ?? [2, 0];
if (need[0] > MAX_GLIBC[0] || need[1] > MAX_GLIBC[1]) fail(`${built} needs ${glibc.at(-1)}, more than the glibc ${MAX_GLIBC.join('.')} the package promises`);
const check = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(built)}); console.log(JSON.stringify(Object.keys(a).sort()))`], { encoding: 'utf8' });
if (check.status !== 0) fail(`${built} does not load: ${check.stderr}`);
const exported = JSON.parse(check.stdout.trim());
// The shipped addon's exports, sorted (the one list: test/addon_exports.test.ts reads it too).
const publicApi = JSON.parse(readFileSync(join(root, 'native', 'addon', 'public_api.json'), 'utf8'));
if (JSON.stringify(exported) !== JSON.stringify(publicApi)) fail(`${built} exports ${exported.join(', ')}, not the public API ${publicApi.join(', ')}`);

const out = join(root, 'prebuilds', target, 'worldcast.node');
mkdirSync(dirname(out), { recursive: true });
copyFileSync(built, out);
console.log(`worldcast prebuild: prebuilds/${target}/worldcast.node, ${(statSync(out).size / 1e6).toFixed(2)} MB, needs glibc >= ${glibc.at(-1)?.slice(6) ?? '?'}, no libstdc++`);

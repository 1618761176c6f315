/**
 * Run one TypeScript fuzz harness (fuzz/js/targets/<name>.ts) with the coverage-guided
 * engine (fuzz/js/engine.ts), libFuzzer-style:
 *   node --import tsx fuzz/js/run.ts <name> [--time S] [--runs N] [--seed N] [--write-seeds]
 * Seeds: the committed fuzz/corpus/<name>/ plus what earlier runs found (build-fuzz/corpus-js/<name>/,
 * where new inputs go). A violated oracle writes the input to build-fuzz/crashes/ and exits 1.
 * --write-seeds writes the harness's seed inputs into fuzz/corpus/<name>/ and exits.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { fuzz, sha1, type Harness } from './engine.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const name = args[0];
const flag = (f: string) => {
  const i = args.indexOf(f);
  return i >= 0 ? args[i + 1] : undefined;
};
if (!name || name.startsWith('-')) {
  console.error('usage: run.ts <harness> [--time seconds] [--runs n] [--seed n] [--write-seeds]');
  process.exit(2);
}
const mod = (await import(`./targets/${name}.ts`)) as { harness: Harness; seeds?: () => Buffer[] };
const seedDir = join(root, 'fuzz', 'corpus', name);
if (args.includes('--write-seeds')) {
  mkdirSync(seedDir, { recursive: true });
  for (const s of mod.seeds?.() ?? []) writeFileSync(join(seedDir, sha1(s).slice(0, 16)), s);
  console.log(`wrote ${mod.seeds?.().length ?? 0} seeds to ${seedDir}`);
  process.exit(0);
}
const workDir = join(root, 'build-fuzz', 'corpus-js', name);
const crashDir = join(root, 'build-fuzz', 'crashes');
mkdirSync(workDir, { recursive: true });
const read = (d: string) => (existsSync(d) ? readdirSync(d).sort().map((f) => readFileSync(join(d, f))) : []);
const seeds = [...read(seedDir), ...read(workDir)];
const seed = Number(flag('--seed') ?? Date.now() % 2 ** 31);
const time = Number(flag('--time') ?? 60);
console.log(`${name}: ${seeds.length} seed inputs, ${time} s, rng seed ${seed}`);
const r = await fuzz(mod.harness, {
  seeds,
  maxTotalTimeMs: time * 1e3,
  maxRuns: flag('--runs') === undefined ? undefined : Number(flag('--runs')),
  seed,
  onNew: (d) => writeFileSync(join(workDir, sha1(d)), d),
  log: (l) => console.log(`${name}: ${l}`),
});
console.log(`${name}: DONE ${r.runs} runs in ${r.seconds.toFixed(1)} s (${Math.round(r.runs / r.seconds)} exec/s), ${r.features} coverage features, corpus ${r.corpus}`);
if (r.finding) {
  mkdirSync(crashDir, { recursive: true });
  const file = join(crashDir, `${name}-${sha1(r.finding.data)}`);
  writeFileSync(file, r.finding.data);
  console.error(`${name}: FINDING on input ${file} (hex ${r.finding.data.toString('hex').slice(0, 400)})`);
  console.error(r.finding.error);
  process.exit(1);
}
process.exit(0);

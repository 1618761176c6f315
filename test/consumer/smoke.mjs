// Run inside a fresh project that installed the packed tarball (test/consumer/run.sh):
// what a user's first program does with the package, through its published entry points only.
// Usage: node smoke.mjs prebuilt|source  (which addon the install must have left).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';

import { defaultModelDir, loadModel } from 'worldcast';
import { WorldEngine, decodeEnvelope, defaultLevel, poseInputs, signToken, spawnPose, startWorldServer } from 'worldcast/gameserver';
import { defaultLevel as worldLevel } from 'worldcast/world';
import { WorldEnv, goalTask } from 'worldcast/env';
import { ColyseusSDK } from '@colyseus/sdk';

const expected = process.argv[2];
assert.ok(expected === 'prebuilt' || expected === 'source', 'usage: node smoke.mjs prebuilt|source');
const t0 = performance.now();
const ms = () => `${(performance.now() - t0).toFixed(0)} ms`;

// The package is the installed one, and the addon the one this install was meant to leave.
const require = createRequire(import.meta.url);
const pkgDir = realpathSync(join(process.cwd(), 'node_modules', 'worldcast'));
const entry = realpathSync(require.resolve('worldcast'));
assert.ok(entry.startsWith(pkgDir + sep), `worldcast resolves to ${entry}, not this project's node_modules/worldcast`);
const built = existsSync(join(pkgDir, 'build', 'Release', 'worldcast.node'));
const prebuilt = existsSync(join(pkgDir, 'prebuilds', 'linux-x64', 'worldcast.node'));
assert.ok(prebuilt, 'the package carries prebuilds/linux-x64/worldcast.node');
assert.equal(built, expected === 'source', expected === 'source' ? 'the forced source build left build/Release/worldcast.node' : 'the prebuilt install compiled nothing (no build/)');
for (const dev of ['tools', 'test', 'bench', 'fuzz', 'examples/web-client', 'world/src', 'sdk/src', 'native/addon/testing.cpp'])
  assert.ok(!existsSync(join(pkgDir, dev)), `the package leaves out ${dev}`);

// worldcast: the default model, from the installed package, stepped and decoded.
const dir = defaultModelDir();
assert.equal(realpathSync(dir), join(pkgDir, 'models', 'default'));
const model = await loadModel(dir, { threads: 2 });
const view = { level: defaultLevel, latent: { height: model.config.latent_height ?? 16, width: model.config.latent_width ?? 16 } };
const at = poseInputs(spawnPose(defaultLevel.spawns[0]), model.actionSpace, { view }); // with the decoder's map of the view
const session = model.createSession({ seed: 1, prompt: 'dusk', opening: 'dusk/0', openingActions: at });
const block = await session.step({ actions: { keys: ['w'], mouse: { dx: 0.2 }, ...at } });
assert.ok(block.images.length >= 1, 'a decoded frame');
const img = block.images[0];
assert.equal(img.rgb.length, img.width * img.height * 3);
assert.ok(img.rgb.some((v) => v !== img.rgb[0]), 'the frame is not blank');
console.log(`worldcast: ${model.info().isa} engine, block of ${block.images.length} frames ${img.width}x${img.height} in ${block.latencyMs.toFixed(0)} ms (${ms()})`);
await session.close();
model.close();

// worldcast/world is the simulation the game server re-exports: one module, not a copy.
assert.equal(worldLevel, defaultLevel, 'worldcast/world and worldcast/gameserver share the world module');

// worldcast/env: a Gymnasium-style step.
const env = await WorldEnv.create(dir, { reward: goalTask([5.4, 5.4]), maxEpisodeSteps: 3, load: { threads: 2 } });
const [obs] = await env.reset({ seed: 1 });
const [obs2, reward, terminated, truncated] = await env.step({ keys: [1, 0, 0, 0, 0], mouse: [0.3, 0] });
assert.equal(obs.length, obs2.length);
assert.equal(typeof reward, 'number');
console.log(`worldcast/env: reset + step, obs ${obs.length} bytes, reward ${reward.toFixed(3)}, terminated ${terminated}, truncated ${truncated} (${ms()})`);
await env.close();

// worldcast/gameserver: a WorldRoom over loopback with the default model; a real client joins and gets frames.
const SECRET = 'consumer-test-secret-0123456789abcdef';
const server = await startWorldServer({ port: 0, model: { modelDir: dir, threads: 2 }, rooms: { world: { auth: { secret: SECRET } } }, metricsPath: false });
try {
  const sdk = new ColyseusSDK(server.url);
  sdk.auth.token = signToken(SECRET, { sub: 'consumer' });
  const room = await sdk.joinOrCreate('world', {});
  room.reconnection.enabled = false;
  const frames = [];
  room.onMessage('frame', (b) => frames.push(decodeEnvelope(b)));
  for (const t of ['welcome', 'prompt', 'error', 'stats']) room.onMessage(t, () => {});
  const timer = setInterval(() => room.send('input', { seq: frames.length + 1, keys: 1, dx: 0.01, dy: 0 }), 50);
  const deadline = Date.now() + 60_000;
  while (frames.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  clearInterval(timer);
  assert.ok(frames.length >= 3, `the client received ${frames.length} frames within 60 s`);
  const { header, payload } = frames[0];
  assert.ok(header.width > 0 && header.height > 0 && payload.length > 0, 'a frame with pixels');
  console.log(`worldcast/gameserver: ${server.url}, client received ${frames.length} frames (${header.width}x${header.height} ${header.codec}) (${ms()})`);
  await room.leave();
} finally {
  await server.close();
  await WorldEngine.closeShared();
}

// The CLI the package installs (node_modules/.bin/worldcast), with its default model.
const out = mkdtempSync(join(tmpdir(), 'worldcast-render-'));
try {
  const r = spawnSync(join(process.cwd(), 'node_modules', '.bin', 'worldcast'), ['render', '--model', dir, '--blocks', '1', '--threads', '2', '--prompt', 'day', '--out', join(out, 'out.webp')], { encoding: 'utf8' });
  assert.equal(r.status, 0, `worldcast render failed: ${r.stderr}`);
  const webp = readFileSync(join(out, 'out.webp'));
  assert.equal(webp.subarray(8, 12).toString('latin1'), 'WEBP');
  console.log(`worldcast render: ${webp.length} bytes of WebP (${ms()})`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
console.log(`consumer smoke (${expected}) ok`);

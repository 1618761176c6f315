import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { EnvServer, decodeMessage, encodeMessage, type WireArray } from '../env/src/protocol.js';
import { FrameReader, frame, serveStdio, serveWebSocket } from '../env/src/serve.js';
import { root } from './helpers/fixtures.js';

const server = new EnvServer({ defaultModel: join(root, 'models', 'default'), threads: 2 });
afterAll(() => server.close());

interface Reply {
  id: unknown;
  result?: Record<string, unknown>;
  error?: { type: string; message: string };
}
let nextId = 1;
async function call(method: string, params: Record<string, unknown> = {}): Promise<Reply> {
  return decodeMessage(await server.handle(encodeMessage({ id: nextId++, method, params }))) as Reply;
}

describe('env protocol', () => {
  it('makes, resets, steps and closes an env; arrays travel as {dtype, shape, data}', async () => {
    const made = await call('make', { kind: 'single', options: { actionType: 'discrete', maxEpisodeSteps: 5, reward: [{ type: 'goalTask', center: [0, -8] }] } });
    expect(made.error).toBeUndefined();
    const env = made.result!.env;
    expect(made.result!.action_space).toEqual({ type: 'Discrete', n: 10, start: 0 });
    const reset = await call('reset', { env, seed: 4 });
    const obs = reset.result!.obs as WireArray;
    expect(obs.dtype).toBe('uint8');
    expect(obs.shape).toEqual([128, 128, 3]);
    expect(obs.data.byteLength).toBe(128 * 128 * 3);
    const step = await call('step', { env, action: 1 });
    expect(typeof step.result!.reward).toBe('number');
    expect(step.result!.terminated).toBe(false);
    expect((step.result!.info as { pose: { z: number } }).pose.z).toBeTypeOf('number');
    const bad = await call('step', { env, action: 99 });
    expect(bad.error).toEqual({ type: 'ArgumentError', message: 'action = 99 is outside [0, 9]' });
    expect((await call('close', { env })).result).toEqual({});
    expect((await call('step', { env, action: 1 })).error?.message).toMatch(/no environment/);
  });

  it('serves vector and multi-agent envs', async () => {
    const v = await call('make', { kind: 'vector', num_envs: 2, options: { actionType: 'discrete' } });
    const env = v.result!.env;
    expect((v.result!.observation_space as { shape: number[] }).shape).toEqual([2, 128, 128, 3]);
    await call('reset', { env, seed: 1 });
    const s = await call('step', { env, action: [1, 0] });
    expect((s.result!.obs as WireArray).shape).toEqual([2, 128, 128, 3]);
    expect(s.result!.reward).toEqual([0, 0]);
    await call('close', { env });
    const m = await call('make', { kind: 'multi', agents: ['red', 'blue'], options: { actionType: 'discrete' } });
    expect(m.result!.possible_agents).toEqual(['red', 'blue']);
    await call('reset', { env: m.result!.env, seed: 1 });
    const ms = await call('step', { env: m.result!.env, action: { red: 1, blue: 6 } });
    expect(Object.keys(ms.result!.obs as object)).toEqual(['red', 'blue']);
    expect(((ms.result!.obs as Record<string, WireArray>).red!).shape).toEqual([128, 128, 3]);
    await call('close', { env: m.result!.env });
  });

  it('client values in errors: never String() of them (an InternalError before), cut and escaped (found by fuzz/js env_protocol)', async () => {
    // msgpack maps decode to plain objects, so {toString: 1} arrives as is and String() of it throws
    const hostile = { toString: 1 };
    for (const params of [{ kind: hostile }, { options: { reward: { type: hostile } } }, { env: hostile }]) {
      const method = 'env' in params ? 'reset' : 'make';
      const r = decodeMessage(await server.handle(encodeMessage({ id: 9, method, params }))) as Reply;
      expect(r.error, JSON.stringify(params)).toMatchObject({ type: 'ArgumentError' });
      expect(r.error!.message).toMatch(/an object/);
    }
    // a client's string comes back quoted and with its bidi/format/separator characters escaped
    const odd = decodeMessage(await server.handle(encodeMessage({ id: 11, method: 'make', params: { options: { 'a\u202eb\u061c\u2028': 1 } } }))) as Reply;
    expect(odd.error!.message).toContain('unknown option "a\\u202eb\\u061c\\u2028"');
    // a model directory is a printable path (it was echoed in the load error) and a string (it was ignored)
    for (const model of ['a\u0085b', 7, { toString: 1 }]) {
      const r = decodeMessage(await server.handle(encodeMessage({ id: 13, method: 'make', params: { model } }))) as Reply;
      expect(r.error, JSON.stringify(model)).toMatchObject({ type: 'ArgumentError' });
      expect(r.error!.message).toMatch(/^make: model must be a directory path/);
      expect(r.error!.message).not.toMatch(/[\p{Cc}\p{Cf}]/u);
    }
    // msgpackr's own error quotes what it decoded: cut and escaped too
    const trailing = decodeMessage(await server.handle(Buffer.concat([encodeMessage({ id: 12, method: 'm\u007f'.repeat(500) }), Buffer.from([0xc0])]))) as Reply;
    expect(trailing.error!.message).toMatch(/^not a msgpack message: "/);
    expect(trailing.error!.message).not.toMatch(/[\p{Cc}\p{Cf}]/u);
    expect(trailing.error!.message.length).toBeLessThan(200);
    const long = decodeMessage(await server.handle(encodeMessage({ id: 10, method: 'x'.repeat(100_000) }))) as Reply;
    expect(long.error!.message.length).toBeLessThan(200); // a client's string is cut, not echoed whole
  });

  it('answers malformed requests with an error and keeps serving', async () => {
    const raw = async (b: Uint8Array): Promise<Reply> => decodeMessage(await server.handle(b)) as Reply;
    expect((await raw(new Uint8Array([0x92, 0x01]))).error?.message).toMatch(/not a msgpack message/);
    expect((await raw(encodeMessage([1, 2]))).error?.message).toMatch(/a request is a map/);
    expect((await raw(encodeMessage({ id: 3, method: 'fly' }))).error?.message).toMatch(/unknown method "fly"/);
    expect((await raw(encodeMessage({ id: 4, method: 'make', params: { options: { gravity: 1 } } }))).error?.message).toMatch(/unknown option "gravity"/);
    expect((await raw(encodeMessage({ id: 5, method: 'make', params: { options: { reward: [{ type: 'teleport' }] } } }))).error?.message).toMatch(/reward\[0\].type must be one of/);
    expect((await raw(encodeMessage({ id: 6, method: 'make', params: { model: '/nonexistent' } }))).error?.type).toMatch(/^(Config|Weights)Error$/);
    // Fuzz: arbitrary bytes and arbitrary request-shaped maps get a reply, never a throw.
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (b) => {
        const r = await raw(b);
        expect(r.error ?? r.result).toBeDefined();
      }),
      { numRuns: 300 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record({ id: fc.oneof(fc.integer(), fc.string()), method: fc.constantFrom('reset', 'step', 'close', 'list', 'nope'), params: fc.dictionary(fc.constantFrom('env', 'seed', 'action', 'options'), fc.jsonValue()) }),
        async (req) => {
          const r = await raw(encodeMessage(req));
          expect(r.id).toEqual(req.id);
          expect(r.error ?? r.result).toBeDefined();
        },
      ),
      { numRuns: 300 },
    );
    expect((await call('list')).result).toEqual({ envs: [] });
  });

  it('splits a stdio byte stream into messages however it is chunked', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 8 }), (msgs, cuts) => {
        const stream = Buffer.concat(msgs.map((m) => frame(m)));
        const r = new FrameReader();
        const got: Uint8Array[] = [];
        for (let i = 0, k = 0; i < stream.length; k++) {
          const n = cuts[k % cuts.length]!;
          got.push(...r.push(stream.subarray(i, i + n)));
          i += n;
        }
        expect(got.map((g) => Buffer.from(g))).toEqual(msgs.map((m) => Buffer.from(m)));
      }),
    );
    expect(() => new FrameReader().push(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(/exceeds/);
  });

  it('runs over stdio and WebSocket', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const replies: Reply[] = [];
    const reader = new FrameReader();
    output.on('data', (c: Buffer) => replies.push(...reader.push(c).map((m) => decodeMessage(m) as Reply)));
    const done = serveStdio(server, input, output);
    input.write(frame(encodeMessage({ id: 'a', method: 'list', params: {} })));
    input.write(Buffer.from([2, 0, 0, 0, 0x92, 0x01])); // a length-prefixed truncated message
    input.end();
    await done;
    expect(replies.map((r) => r.id)).toEqual(['a', null]);
    expect(replies[1]!.error?.message).toMatch(/not a msgpack message/);

    const wss = await serveWebSocket(server, 0);
    const port = (wss.address() as { port: number }).port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    await new Promise((ok) => ws.once('open', ok));
    const reply = new Promise<Reply>((ok) => ws.once('message', (d: Buffer) => ok(decodeMessage(d) as Reply)));
    ws.send(encodeMessage({ id: 7, method: 'list', params: {} }));
    expect((await reply).result).toEqual({ envs: [] });
    ws.close();
    await new Promise((ok) => wss.close(ok));
  });
});

/** A Python 3 with Debian's msgpack (`.ci/run` installs python3-msgpack). */
function pythonWithMsgpack(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import msgpack'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return null;
}

describe('the Python client (examples/agent-env)', () => {
  const py = pythonWithMsgpack();
  it.skipIf(!py)('drives the default world from Python with the standard library and msgpack', () => {
    const out = execFileSync(py!, [join(root, 'examples', 'agent-env', 'random_agent.py'), '--episodes', '2', '--steps', '4'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(out).toMatch(/episode 0: return -?\d+\.\d+ over \d+ steps .* frame \(128, 128, 3\)/);
    expect(out).toMatch(/episode 1:/);
    expect(out).toMatch(/env steps\/s from Python/);
  });
});

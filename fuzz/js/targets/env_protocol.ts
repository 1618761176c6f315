/**
 * The agent-env server's request decoding (env/src/protocol.ts, EnvServer.handle): msgpack
 * requests {id, method, params} on arbitrary bytes, against a server whose default model
 * directory does not exist (so `make` fails at loading, after its options are validated).
 * Oracles: handle() always resolves to a msgpack reply {id, result} or {id, error: {type,
 * message}}; a client's bad request is a typed error, never an InternalError, and its
 * message echoes no control, format or separator characters.
 */
import { pack } from 'msgpackr';

import { EnvServer, decodeMessage, encodeMessage } from '../../../env/src/protocol.js';
import { Finding, HOSTILE_VALUES, msgpackTreeMutator, type Harness } from '../engine.js';

const KEYS = ['id', 'method', 'params', 'env', 'seed', 'options', 'action', 'kind', 'num_envs', 'agents', 'model', 'reward', 'type', 'center', 'radius',
  'scale', 'penalty', 'cost', 'terminate', 'prompt', 'granularity', 'actionType', 'observation', 'maxEpisodeSteps', 'spawn', 'renderTruth', 'session', 'autoresetMode'];
const VALUES = [...HOSTILE_VALUES, 'make', 'reset', 'step', 'close', 'list', 'single', 'vector', 'multi', 'reachGoal', 'goalProgress', 'collisionPenalty', 'stepCost',
  'goalTask', 'discrete', 'continuous', [0, -8], [1, 2, 3], ['a', 'b'], 1, 2];

const server = new EnvServer({ defaultModel: '/nonexistent/worldcast-fuzz-model', threads: 1 });

export const harness: Harness = {
  name: 'env_protocol',
  coverage: ['env/src/protocol.ts'],
  dict: [
    ...['id', 'method', 'params', 'make', 'reset', 'step', 'close', 'list', 'env', 'seed', 'options', 'action', 'kind', 'single', 'vector', 'multi',
      'num_envs', 'agents', 'model', 'reward', 'type', 'goalTask', 'center', 'radius', 'actionType', 'discrete', 'continuous', 'maxEpisodeSteps',
      'autoresetMode', 'reachGoal', 'goalProgress', 'collisionPenalty', 'stepCost', '__proto__', 'toString', 'valueOf', 'constructor'].map((s) => pack(s)),
    pack({ toString: 1 }), pack([0, -8]), pack(NaN), pack(-1), pack(1e300),
  ],
  mutate: msgpackTreeMutator(KEYS, VALUES),
  async fuzz(data: Buffer): Promise<void> {
    const reply = decodeMessage(await server.handle(data)) as { id?: unknown; result?: unknown; error?: { type?: unknown; message?: unknown } };
    if (reply === null || typeof reply !== 'object') throw new Finding('the reply is not a map');
    if (reply.error !== undefined) {
      const { type, message } = reply.error;
      if (typeof type !== 'string' || typeof message !== 'string') throw new Finding('error without a type and message');
      if (type === 'InternalError') throw new Finding(`a client request gave an InternalError: ${message.slice(0, 300)}`);
      if (/[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/u.test(message)) throw new Finding(`an error message echoes unsafe characters: ${JSON.stringify(message.slice(0, 300))}`);
    } else if (!('result' in reply)) {
      throw new Finding('a reply with neither result nor error');
    }
  },
};

export function seeds(): Buffer[] {
  const req = (method: string, params?: unknown, id: unknown = 1) => Buffer.from(encodeMessage(params === undefined ? { id, method } : { id, method, params }));
  return [
    req('list'),
    req('make', { kind: 'single', options: { actionType: 'discrete', maxEpisodeSteps: 5, reward: [{ type: 'goalTask', center: [0, -8] }] } }),
    req('make', { kind: 'vector', num_envs: 2 }),
    req('make', { kind: 'multi', agents: ['a', 'b'] }),
    req('reset', { env: 1, seed: 4 }),
    req('step', { env: 1, action: 1 }),
    req('close', { env: 1 }, 'x'),
    req('nope'),
  ];
}

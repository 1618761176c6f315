/**
 * Who may join a WorldRoom, decided at matchmaking (Colyseus calls the room's static onAuth
 * on the HTTP matchmaking request, before any room is created or seat reserved): the join
 * options are validated, the token verified with the room type's verifier, and a seat taken
 * from the identity's limits. onJoin gets the result as `client.auth` ({@link JoinAuth}).
 */
import { ServerError, matchMaker, type AuthContext } from '@colyseus/core';

import { HmacTokenVerifier, type AuthIdentity, type TokenVerifier } from './auth.js';
import { identityLimiter, resolveLimits, type IdentityLimits } from './limits.js';
import { worldMetrics } from './metrics.js';
import { validateJoinOptions } from './protocol.js';
import { WORLD_ERRORS } from './errors.js';
import type { WorldRoomOptions } from './room.js';

/** What the static onAuth hands to onJoin (as `client.auth`). */
export interface JoinAuth {
  /** The verified token's identity (null without auth). */
  identity: AuthIdentity | null;
  /** Key of the identity's limits (null: limits off). */
  limitKey: string | null;
}

/**
 * The matchmaking check of a join: the room type is found from the request path
 * (`/matchmake/<method>/<roomName | roomId>`), its options validated, its token verified,
 * a seat reserved against the identity's limits. Throws a ServerError (with an HTTP code)
 * that refuses the join.
 */
export async function authorizeJoin(token: string, options: unknown, context: AuthContext): Promise<JoinAuth> {
  const roomName = await roomNameOf(context);
  if (roomName === null) throw new ServerError(WORLD_ERRORS.AUTH, 'cannot tell which room is being joined');
  const opts = validateJoinOptions(options);
  if (!opts.ok) {
    worldMetrics.refusals.inc({ reason: 'options' });
    throw new ServerError(WORLD_ERRORS.BAD_OPTIONS, opts.error);
  }
  const { verifier, limits } = roomConfigFor(roomName);
  let identity: AuthIdentity | null = null;
  if (verifier !== null) {
    const t = token || opts.value.token;
    if (!t) throw new ServerError(WORLD_ERRORS.AUTH, 'authentication required: join with a token (client.auth.token or the "token" option)');
    try {
      identity = await verifier.verify(t, { roomName, ip: context.ip });
    } catch {
      identity = null;
    }
    if (!identity || typeof identity.sub !== 'string') {
      worldMetrics.refusals.inc({ reason: 'auth' });
      throw new ServerError(WORLD_ERRORS.AUTH, 'invalid or expired token');
    }
  }
  const limitKey = limits === null ? null : identity ? `sub:${identity.sub}` : `ip:${typeof context.ip === 'string' ? context.ip : 'unknown'}`;
  if (limitKey !== null) {
    const refused = identityLimiter.reserve(limitKey, limits!);
    if (refused) {
      worldMetrics.refusals.inc({ reason: refused.code === WORLD_ERRORS.JOIN_RATE ? 'join_rate' : 'identity_cap' });
      throw new ServerError(refused.code, refused.message);
    }
  }
  return { identity, limitKey };
}

/** What a defined room type's static onAuth needs: its verifier and its identity limits. */
interface RoomAuthConfig {
  verifier: TokenVerifier | null;
  limits: IdentityLimits | null;
}

const authConfigs = new WeakMap<object, RoomAuthConfig>();

/** The verifier a room's options ask for (null: auth off). */
export function makeVerifier(o: WorldRoomOptions): TokenVerifier | null {
  if (o.auth === false) return null;
  const a = o.auth ?? {};
  if (a.verifier) return a.verifier;
  const secret = a.secret ?? process.env.WORLDCAST_SECRET;
  if (!secret) throw new Error('WorldRoom: auth needs a verifier or a secret (options.auth.secret or WORLDCAST_SECRET); pass auth: false to turn it off');
  return new HmacTokenVerifier(secret);
}

/** The auth config of a defined room type (its class defaults + define() options), cached. */
function roomConfigFor(roomName: string): RoomAuthConfig {
  const handler = matchMaker.getHandler(roomName);
  const key = (handler.options ?? handler) as object;
  let c = authConfigs.get(key);
  if (c === undefined) {
    const klass = handler.klass as unknown as { defaults?: WorldRoomOptions };
    const o: WorldRoomOptions = { ...(klass.defaults ?? {}), ...((handler.options ?? {}) as WorldRoomOptions) };
    c = { verifier: makeVerifier(o), limits: o.limits === false ? null : resolveLimits(o.limits) };
    authConfigs.set(key, c);
  }
  return c;
}

/** `client.auth` as the static onAuth made it (a subclass's onAuth may hand other shapes). */
export function joinAuthOf(a: unknown): JoinAuth {
  if (typeof a !== 'object' || a === null) return { identity: null, limitKey: null };
  const j = a as Partial<JoinAuth>;
  if ('limitKey' in j || 'identity' in j)
    return { identity: typeof j.identity === 'object' ? (j.identity ?? null) : null, limitKey: typeof j.limitKey === 'string' ? j.limitKey : null };
  const sub = (a as { sub?: unknown }).sub;
  return typeof sub === 'string' ? { identity: a as AuthIdentity, limitKey: null } : { identity: null, limitKey: null };
}

/** The room type a matchmaking request is for (null when it cannot be told). */
async function roomNameOf(context: AuthContext): Promise<string | null> {
  const req = context.req as { url?: unknown } | undefined;
  if (!req || typeof req.url !== 'string') return null;
  let path: string;
  try {
    path = new URL(req.url, 'http://localhost').pathname;
  } catch {
    return null;
  }
  const m = /\/matchmake\/([^/]+)\/([^/]+)\/?$/.exec(path);
  if (!m) return null;
  const method = decodeURIComponent(m[1]!);
  const target = decodeURIComponent(m[2]!);
  if (method !== 'joinById') {
    try {
      matchMaker.getHandler(target);
      return target;
    } catch {
      return null;
    }
  }
  const local = matchMaker.getLocalRoomById(target);
  if (local) return local.roomName;
  const found = await matchMaker.query({ roomId: target });
  return found[0]?.name ?? null;
}


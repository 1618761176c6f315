/**
 * Token auth. A WorldRoom's `onAuth` hands the client's token (the SDK's
 * `client.auth.token`, sent as a Bearer header, or a `token` join option) to a
 * {@link TokenVerifier}. The default verifier checks shared-secret HMAC-SHA256 tokens:
 *
 *   `wc1.<base64url(JSON {sub, exp, iat})>.<base64url(HMAC-SHA256(secret, "wc1." + payload))>`
 *
 * made by {@link signToken} (e.g. by the studio's login service, which shares the secret).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Who a verified token belongs to. */
export interface AuthIdentity {
  /** Player / user id. */
  sub: string;
  /** Expiry, seconds since the epoch. */
  exp?: number;
  [claim: string]: unknown;
}

/** Checks a token; returns the identity, or null (or throws) when it is not valid. */
export interface TokenVerifier {
  verify(token: string, context: { roomName: string; ip?: string }): AuthIdentity | null | Promise<AuthIdentity | null>;
}

const PREFIX = 'wc1';
const MAX_TOKEN_CHARS = 2048;

function mac(secret: string | Buffer, data: string): Buffer {
  return createHmac('sha256', secret).update(data).digest();
}

/** A token for `sub` valid for `ttlSeconds` (default one hour), signed with `secret`. */
export function signToken(secret: string | Buffer, claims: { sub: string; ttlSeconds?: number; [claim: string]: unknown }): string {
  const { ttlSeconds = 3600, ...rest } = claims;
  const iat = Math.floor(Date.now() / 1000);
  const payload = Buffer.from(JSON.stringify({ ...rest, iat, exp: iat + ttlSeconds })).toString('base64url');
  const head = `${PREFIX}.${payload}`;
  return `${head}.${mac(secret, head).toString('base64url')}`;
}

/** The default verifier: HMAC-SHA256 over the token's payload with a shared secret, plus expiry. */
export class HmacTokenVerifier implements TokenVerifier {
  readonly #secret: string | Buffer;
  /** Allowed clock skew (s). */
  readonly leewaySeconds: number;
  constructor(secret: string | Buffer, opts: { leewaySeconds?: number } = {}) {
    if (secret.length < 16) throw new Error('HmacTokenVerifier: the secret must have at least 16 characters');
    this.#secret = secret;
    this.leewaySeconds = opts.leewaySeconds ?? 30;
  }
  verify(token: string): AuthIdentity | null {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) return null;
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== PREFIX) return null;
    const expected = mac(this.#secret, `${parts[0]}.${parts[1]}`);
    const given = Buffer.from(parts[2]!, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    } catch {
      return null;
    }
    if (typeof claims !== 'object' || claims === null) return null;
    const c = claims as AuthIdentity;
    if (typeof c.sub !== 'string' || c.sub.length === 0 || c.sub.length > 256) return null;
    if (typeof c.exp !== 'number' || c.exp + this.leewaySeconds < Date.now() / 1000) return null;
    return c;
  }
}

/**
 * Per-identity limits of the game server: how many seats (players and spectators, in any
 * room of this process, reserved or joined) and world sessions one identity may hold at
 * once, and how fast it may join. The identity is the verified token's `sub`, or the
 * client's IP address for rooms without auth.
 *
 * A join is checked twice: at matchmaking (the room's static onAuth, before any seat is
 * reserved: the join rate and the seat cap), then in the room's onJoin (the session cap,
 * for a player that gets a world session of its own). A refused join is a ServerError
 * with {@link LIMIT_ERRORS}' code and a message that says which limit and how to recover.
 *
 * The counts are per process: with several processes behind one presence (Redis), each
 * one enforces its limits on the seats it reserved and the players it hosts.
 */

/** Limits of one identity (a room type's `limits` option). */
export interface IdentityLimits {
  /** Seats (players and spectators, reserved or joined) at once (default 4). */
  seats: number;
  /** World sessions of its own (private-mode players) at once (default 2). */
  sessions: number;
  /** Sustained joins per minute (default 12). */
  joinsPerMinute: number;
  /** Joins allowed in a burst above that rate (default 6). */
  joinBurst: number;
}

export const DEFAULT_IDENTITY_LIMITS: Readonly<IdentityLimits> = Object.freeze({ seats: 4, sessions: 2, joinsPerMinute: 12, joinBurst: 6 });

/**
 * Error codes of refused joins. A refusal at matchmaking is the HTTP response's status (so
 * these are HTTP codes: 409 Conflict, 429 Too Many Requests); one in onJoin is the join
 * error's code, and the socket is then closed by Colyseus (4002).
 */
export const LIMIT_ERRORS = {
  /** The identity holds as many seats or sessions as it may. */
  IDENTITY_CAP: 409,
  /** The identity joins faster than it may. */
  JOIN_RATE: 429,
} as const;

/** Validated limits: every field a positive integer (Infinity allowed for the caps). */
export function resolveLimits(given: Partial<IdentityLimits> | undefined): IdentityLimits {
  const out = { ...DEFAULT_IDENTITY_LIMITS, ...given };
  for (const k of ['seats', 'sessions', 'joinsPerMinute', 'joinBurst'] as const) {
    const v = out[k];
    if (typeof v !== 'number' || !(v >= 1) || (!Number.isInteger(v) && v !== Infinity)) throw new Error(`limits.${k} must be a positive integer (or Infinity), not ${typeof v === 'number' ? v : typeof v}`);
  }
  return out;
}

export type LimitRefusal = { code: number; message: string };

interface Entry {
  /** Joined seats. */
  joined: number;
  /** Reserved seats not joined yet: their expiry times (ms), oldest first. */
  reserved: number[];
  sessions: number;
  /** Join-rate bucket: joins left, refilled at joinsPerMinute up to joinBurst. */
  tokens: number;
  refilledAt: number;
  /** The rate and burst of the limits it was last seen with (its bucket refills by them). */
  rate: number;
  burst: number;
}

/** Seat, session and join-rate accounting by identity key. */
export class IdentityLimiter {
  readonly #entries = new Map<string, Entry>();
  #sweptAt = 0;
  /** How long a reservation counts when its join never comes (ms). */
  readonly reservationMs: number;
  readonly #now: () => number;
  constructor(opts: { reservationSeconds?: number; now?: () => number } = {}) {
    this.reservationMs = (opts.reservationSeconds ?? 15) * 1000 + 1000;
    this.#now = opts.now ?? Date.now;
  }

  #entry(key: string, limits: IdentityLimits): Entry {
    const now = this.#now();
    let e = this.#entries.get(key);
    if (!e) {
      e = { joined: 0, reserved: [], sessions: 0, tokens: limits.joinBurst, refilledAt: now, rate: limits.joinsPerMinute, burst: limits.joinBurst };
      this.#entries.set(key, e);
    }
    this.#settle(e, now);
    e.rate = limits.joinsPerMinute;
    e.burst = limits.joinBurst;
    e.tokens = Math.min(e.burst, e.tokens);
    return e;
  }

  /** Up to `now`: expired reservations dropped, the join bucket refilled at its rate. */
  #settle(e: Entry, now: number): void {
    while (e.reserved.length > 0 && e.reserved[0]! <= now) e.reserved.shift();
    e.tokens = Math.min(e.burst, e.tokens + ((now - e.refilledAt) / 60_000) * e.rate);
    e.refilledAt = now;
  }

  /** An identity that holds nothing and whose join bucket is full again needs no entry. */
  #forget(key: string, e: Entry): void {
    if (e.joined === 0 && e.reserved.length === 0 && e.sessions === 0 && e.tokens >= e.burst) this.#entries.delete(key);
  }

  /** Drop idle entries (at most every 10 s, so the map stays as small as the active identities). */
  #sweep(): void {
    const now = this.#now();
    if (now - this.#sweptAt < 10_000) return;
    this.#sweptAt = now;
    for (const [key, e] of this.#entries) {
      this.#settle(e, now);
      this.#forget(key, e);
    }
  }

  /** At matchmaking: take a join from the rate bucket and reserve a seat, or say why not. */
  reserve(key: string, limits: IdentityLimits): LimitRefusal | null {
    this.#sweep();
    const e = this.#entry(key, limits);
    const seats = e.joined + e.reserved.length;
    if (seats >= limits.seats) {
      this.#forget(key, e);
      return { code: LIMIT_ERRORS.IDENTITY_CAP, message: `too many seats: this identity already holds ${seats} (the limit is ${limits.seats}); leave a room first` };
    }
    if (e.tokens < 1) {
      const wait = Math.ceil(((1 - e.tokens) / limits.joinsPerMinute) * 60);
      this.#forget(key, e);
      return { code: LIMIT_ERRORS.JOIN_RATE, message: `joining too fast: at most ${limits.joinsPerMinute} joins a minute (bursts of ${limits.joinBurst}); try again in ${wait} s` };
    }
    e.tokens -= 1;
    e.reserved.push(this.#now() + this.reservationMs);
    return null;
  }

  /** In onJoin: a reserved seat (if this process reserved one) is now joined. */
  joined(key: string, limits: IdentityLimits): void {
    const e = this.#entry(key, limits);
    e.reserved.shift();
    e.joined++;
  }

  /** A join that failed after its reservation: the seat is free again. */
  unreserve(key: string, limits: IdentityLimits): void {
    const e = this.#entry(key, limits);
    e.reserved.shift();
    this.#forget(key, e);
  }

  /** A joined seat was left. */
  left(key: string, limits: IdentityLimits): void {
    const e = this.#entry(key, limits);
    e.joined = Math.max(0, e.joined - 1);
    this.#forget(key, e);
  }

  /** Before a world session of its own is made: null, or why not. */
  checkSession(key: string, limits: IdentityLimits): LimitRefusal | null {
    const e = this.#entry(key, limits);
    if (e.sessions >= limits.sessions)
      return { code: LIMIT_ERRORS.IDENTITY_CAP, message: `too many world sessions: this identity already has ${e.sessions} (the limit is ${limits.sessions}); leave a world first` };
    return null;
  }

  sessionOpened(key: string, limits: IdentityLimits): void {
    this.#entry(key, limits).sessions++;
  }

  sessionClosed(key: string, limits: IdentityLimits): void {
    const e = this.#entry(key, limits);
    e.sessions = Math.max(0, e.sessions - 1);
    this.#forget(key, e);
  }

  /** Counts of an identity (for tests and the stats). */
  usage(key: string): { joined: number; reserved: number; sessions: number } {
    const e = this.#entries.get(key);
    const now = this.#now();
    return { joined: e?.joined ?? 0, reserved: e ? e.reserved.filter((t) => t > now).length : 0, sessions: e?.sessions ?? 0 };
  }
}

/** The process's limiter, shared by every WorldRoom type (limits are per identity, across rooms). */
export const identityLimiter = new IdentityLimiter({ reservationSeconds: Number(process.env.COLYSEUS_SEAT_RESERVATION_TIME || 15) });

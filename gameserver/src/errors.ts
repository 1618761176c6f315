/** The codes a WorldRoom refuses joins and ends sessions with. */
import { ErrorCode } from '@colyseus/core';

import { LIMIT_ERRORS } from './limits.js';

/** Error codes sent to clients (`error`, `session_ended` messages and join refusals). */
export const WORLD_ERRORS = {
  /** The KV pool cannot hold another world session. */
  KV_FULL: 4503,
  /** Authentication failed. */
  AUTH: ErrorCode.AUTH_FAILED,
  /** A spectator's `spectate` option names no player of the room. */
  NO_SUCH_PLAYER: 4404,
  /** The join options are malformed (an HTTP status: refused at matchmaking). */
  BAD_OPTIONS: 422,
  /** The identity holds as many seats or world sessions as its limits allow. */
  IDENTITY_CAP: LIMIT_ERRORS.IDENTITY_CAP,
  /** The identity joins faster than its limits allow. */
  JOIN_RATE: LIMIT_ERRORS.JOIN_RATE,
} as const;

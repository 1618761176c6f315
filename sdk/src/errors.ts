/**
 * Typed errors of the worldcast SDK. Every error the engine raises arrives as one of
 * these, with the engine's message (which names the file, tensor, key or argument).
 */

/** Base class of every worldcast error. `code` is the engine's error kind. */
export class WorldcastError extends Error {
  /**
   * The engine's error kind: 'WEIGHTS', 'CONFIG', 'SHAPE', 'ARGUMENT', 'KV_BUDGET' or
   * 'CLOSED' (each with its subclass), or another kind such as 'INTERNAL' on a plain
   * WorldcastError.
   */
  readonly code: string;
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A checkpoint file is unusable: missing/extra/mis-shaped tensor, bad header, truncation, dtype. */
export class WeightsError extends WorldcastError {}
/** config.json is malformed or inconsistent. */
export class ConfigError extends WorldcastError {}
/** A tensor argument has the wrong length or shape. */
export class ShapeError extends WorldcastError {}
/** Any other invalid argument (NaN in actions, bad option, …). */
export class ArgumentError extends WorldcastError {}
/** The KV memory budget cannot hold what was asked for. */
export class KvBudgetError extends WorldcastError {}
/** The model or session was closed. */
export class ClosedError extends WorldcastError {}

const byCode: Record<string, new (message: string, code: string, options?: { cause?: unknown }) => WorldcastError> = {
  WEIGHTS: WeightsError,
  CONFIG: ConfigError,
  SHAPE: ShapeError,
  ARGUMENT: ArgumentError,
  KV_BUDGET: KvBudgetError,
  CLOSED: ClosedError,
};

/** Convert an error thrown by the native addon into the matching typed error. */
export function fromNative(err: unknown): unknown {
  if (err instanceof WorldcastError) return err;
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    if (typeof code === 'string') {
      const Cls = byCode[code] ?? WorldcastError;
      return new Cls(err.message, code, { cause: err });
    }
  }
  return err;
}

/** Run `fn`, rethrowing native errors as typed ones. */
export function wrapSync<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw fromNative(e);
  }
}

/** Await `p`, rethrowing native errors as typed ones. */
export async function wrapAsync<T>(p: () => Promise<T>): Promise<T> {
  try {
    return await p();
  } catch (e) {
    throw fromNative(e);
  }
}

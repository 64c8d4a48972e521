// One catalogue of typed errors with stable codes; each boundary turns them into its own answer.

/**
 * Every error Holdfast names. `http`: the admin API's status when it answers with it (as
 * `{"code", "message"}`); `smtp`: the reply a client gets when it stops a message at intake
 * (451: try again later; Redis nearly full is 452, see smtp/data.ts); `message`: what it means.
 * docs/api.md lists each one, and test/unit/errors.test.ts checks the two against each other.
 */
export const ERRORS = {
  INVALID_REQUEST: { http: 400, message: 'the request does not validate' },
  UNAUTHORIZED: { http: 401, message: 'no bearer token, or the wrong one' },
  NOT_FOUND: { http: 404, message: 'no such store, message or path' },
  REFUSED: { http: 409, message: 'the request is valid but the current state does not allow it' },
  TOO_MANY_ATTEMPTS: { http: 429, message: 'too many failed tokens from this address in the last minute' },
  INTERNAL: { http: 500, message: 'internal error (see the server log)' },
  REDIS_UNAVAILABLE: { http: 503, smtp: 451, message: 'Redis did not answer in time or is not connected' },
  TIMEOUT: { http: 503, smtp: 451, message: 'an operation did not finish in time' },
  REDIS_TRANSACTION_FAILED: { http: 503, smtp: 451, message: 'a Redis transaction did not commit every command' },
  REDIS_REPLICAS_LAGGING: {
    http: 503,
    smtp: 451,
    message: 'fewer replicas than configured acknowledged the write',
  },
  REDIS_NOT_DURABLE: { http: 503, smtp: 451, message: 'the Redis server does not fsync every write' },
  REDIS_CLUSTER_NOT_CONFIGURED: {
    http: 500,
    message: 'the Redis given is a Cluster node: give its nodes as redis.cluster',
  },
} as const satisfies Record<string, { http: number; smtp?: 451 | 452; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class HoldfastError extends Error {
  readonly code: ErrorCode;

  /** The message is the catalogue's, then `detail`; with `exact`, `detail` alone (a sentence for the operator). */
  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown; exact?: boolean }) {
    const known = ERRORS[code].message;
    super(detail === undefined ? known : options?.exact ? detail : `${known}: ${detail}`, options);
    this.name = 'HoldfastError';
    this.code = code;
  }
}

/** An error of the catalogue with `message` as it is (the admin API shows it to the operator). */
export function failure(code: ErrorCode, message: string): HoldfastError {
  return new HoldfastError(code, message, { exact: true });
}

/** An operator's request the rules or the current state do not allow: REFUSED, with the reason as its message. */
export function refused(reason: string): HoldfastError {
  return failure('REFUSED', reason);
}

export function isRefusal(error: unknown): error is HoldfastError {
  return error instanceof HoldfastError && error.code === 'REFUSED';
}

/** Rejects with a TIMEOUT (or the given) error when the promise does not settle within `milliseconds`. */
export async function withTimeout<T>(promise: Promise<T>, milliseconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HoldfastError('TIMEOUT', `${what} after ${milliseconds} ms`)), milliseconds);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// One catalogue of typed errors with stable codes; each boundary turns them into its own answer.

export const ERROR_CODES = {
  REDIS_UNAVAILABLE: 'Redis did not answer in time or is not connected',
  REDIS_TRANSACTION_FAILED: 'a Redis transaction did not commit every command',
  REDIS_REPLICAS_LAGGING: 'fewer replicas than configured acknowledged the write',
  REDIS_NOT_DURABLE: 'the Redis server does not fsync every write',
  REDIS_CLUSTER_UNSUPPORTED: 'Redis Cluster is not supported (use Redis Sentinel for failover)',
  TIMEOUT: 'an operation did not finish in time',
  CONFIG_INVALID: 'the configuration is invalid',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class HoldfastError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${ERROR_CODES[code]}: ${detail}` : ERROR_CODES[code], options);
    this.name = 'HoldfastError';
    this.code = code;
  }
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

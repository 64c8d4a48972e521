// What every part of a node is wired from: its config, log, clock, metrics and the Redis services they share.
import type { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Keys } from '../queue/keys.js';
import type { Trace } from '../repositories/trace.js';
import type { RetainedMail } from '../repositories/retained-copies.js';

export interface NodeContext {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** Message time: injectable, so tests control the clock. */
  now: () => number;
  random: () => number;
  keys: Keys;
  /** Holdfast's own bookkeeping connection (BullMQ's scripts are not defined on it). */
  control: Redis;
  trace: Trace;
  retained: RetainedMail;
  /** Redis errors of a store's queues: the commands fail and are answered where they were made, so only debug. */
  redisError: (error: Error, mailstore: string) => void;
}

/** Every Redis call of the control plane waits this long at most (the intake's enqueue timeout). */
export function redisTimeout(context: NodeContext): number {
  return context.config.limits.timeouts.enqueue;
}

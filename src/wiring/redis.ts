// The Redis a node starts on: the managed redis-server when none is configured, and whether it keeps every write.
import type { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import { HoldfastError } from '../errors.js';
import { EmbeddedRedis } from '../redis/embedded.js';
import { findDurabilityProblems } from '../redis/durability.js';

/** The managed redis-server, not yet started, when the config names no Redis of its own. */
export function embeddedRedisFor(config: Config, logger: Logger): EmbeddedRedis | undefined {
  const { redis } = config;
  if (redis.url || redis.sentinels || redis.cluster) return undefined;
  return new EmbeddedRedis({
    dir: redis.embedded.dir,
    binary: redis.embedded.binary,
    maxmemory: redis.embedded.maxmemory,
    logger,
  });
}

/**
 * Whether Redis keeps every acknowledged write (AOF, fsync always, no eviction). Not durable: strict
 * refuses to start, relaxed warns that acknowledged mail can be lost.
 */
export async function checkDurability(control: Redis, config: Config, logger: Logger): Promise<boolean> {
  const problems = await findDurabilityProblems(control);
  if (problems.length === 0) return true;
  if (config.redis.durability === 'strict') {
    throw new HoldfastError(
      'REDIS_NOT_DURABLE',
      `${problems.join('; ')} (set redis.durability: relaxed to run anyway)`,
    );
  }
  logger.warn({ event: EVENTS.redisNotDurable, problems }, 'redis is not durable: acknowledged mail can be lost');
  return false;
}

// Checks that a Redis is one Holdfast can keep mail in: a single server (no Cluster) that fsyncs every write and never evicts.
import type { Redis } from 'ioredis';
import { HoldfastError, withTimeout } from '../errors.js';

const REQUIRED: Record<string, string> = {
  appendonly: 'yes',
  appendfsync: 'always',
  'maxmemory-policy': 'noeviction',
};

/** Returns the problems found; an empty list means the Redis keeps every acknowledged write. */
export async function findDurabilityProblems(redis: Redis): Promise<string[]> {
  const problems: string[] = [];
  for (const [setting, wanted] of Object.entries(REQUIRED)) {
    let actual: string | undefined;
    try {
      const reply = await withTimeout<unknown>(redis.config('GET', setting), 5000, 'CONFIG GET');
      actual = Array.isArray(reply) ? String(reply[1] ?? '') : undefined;
    } catch (error) {
      problems.push(`cannot read ${setting} with CONFIG GET: ${(error as Error).message}`);
      continue;
    }
    if (actual !== wanted) problems.push(`${setting} is "${actual ?? ''}", needs "${wanted}"`);
  }
  return problems;
}

/**
 * Holdfast's transactions and scripts span keys of several mailstores and of the message, which a
 * Redis Cluster would put in different slots; and its connections do not follow MOVED redirects.
 * Said at start rather than as CROSSSLOT and MOVED errors at the first message (docs/reliability).
 */
export async function refuseRedisCluster(redis: Redis): Promise<void> {
  const info = await withTimeout(redis.info('cluster'), 5000, 'INFO cluster');
  if (/^cluster_enabled:1/m.test(info)) throw new HoldfastError('REDIS_CLUSTER_UNSUPPORTED');
}

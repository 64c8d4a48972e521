// Checks that a Redis is one Holdfast can keep mail in: every primary fsyncs every write and never evicts;
// a Cluster is used as one only when configured as one.
import { once } from 'node:events';
import type { Redis } from 'ioredis';
import { clusterPrimaries, isCluster } from './connections.js';
import { HoldfastError, withTimeout } from '../errors.js';

const REQUIRED: Record<string, string> = {
  appendonly: 'yes',
  appendfsync: 'always',
  'maxmemory-policy': 'noeviction',
};

/** Returns the problems found, on every primary of a Cluster; an empty list means Redis keeps every acknowledged write. */
export async function findDurabilityProblems(redis: Redis): Promise<string[]> {
  const primaries = clusterPrimaries(redis);
  const found = await Promise.all(primaries.map((primary) => problemsOf(primary)));
  if (!isCluster(redis)) return found[0] ?? [];
  return found.flatMap((problems, index) =>
    problems.map(
      (problem) => `${primaries[index]!.options.host ?? ''}:${primaries[index]!.options.port ?? ''}: ${problem}`,
    ),
  );
}

async function problemsOf(redis: Redis): Promise<string[]> {
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
 * A Cluster node given as a single Redis would answer MOVED to most keys: said at start. A
 * configured Cluster is awaited until it has its slots, so that its primaries can be checked.
 */
export async function checkTopology(redis: Redis, timeoutMs: number): Promise<void> {
  if (isCluster(redis)) {
    if (redis.status !== 'ready') await withTimeout(once(redis, 'ready'), timeoutMs, 'connecting to the Redis Cluster');
    return;
  }
  const info = await withTimeout(redis.info('cluster'), 5000, 'INFO cluster');
  if (/^cluster_enabled:1/m.test(info)) throw new HoldfastError('REDIS_CLUSTER_NOT_CONFIGURED');
}

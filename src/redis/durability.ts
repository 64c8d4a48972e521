// Checks with CONFIG GET that a Redis fsyncs every write and never evicts keys.
import type { Redis } from 'ioredis';
import { withTimeout } from '../errors.js';

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

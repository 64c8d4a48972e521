// The operator-managed routing table held in Redis: address -> mailstore, bulk-loadable.
import type { Redis } from 'ioredis';
import { withTimeout } from '../errors.js';
import type { RouteEntry } from './user-file.js';

export class RouteTable {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly timeoutMs: number,
  ) {}

  async lookup(address: string): Promise<string | null> {
    return withTimeout(this.redis.hget(this.key, address.toLowerCase()), this.timeoutMs, 'routing lookup');
  }

  async set(address: string, mailstore: string): Promise<void> {
    await withTimeout(this.redis.hset(this.key, address.toLowerCase(), mailstore), this.timeoutMs, 'routing update');
  }

  async remove(address: string): Promise<void> {
    await withTimeout(this.redis.hdel(this.key, address.toLowerCase()), this.timeoutMs, 'routing update');
  }

  /** Loads entries in batches of 1,000 per HSET; returns how many were written. */
  async bulkLoad(entries: readonly RouteEntry[]): Promise<number> {
    for (let start = 0; start < entries.length; start += 1000) {
      const batch = entries
        .slice(start, start + 1000)
        .flatMap(({ address, mailstore }) => [address.toLowerCase(), mailstore]);
      await withTimeout(this.redis.hset(this.key, ...batch), this.timeoutMs, 'routing bulk load');
    }
    return entries.length;
  }
}

// The operator-managed routing table held in Redis: address -> mailstore, bulk-loadable.
import type { Redis } from 'ioredis';
import { withTimeout } from '../errors.js';
import type { Keys } from '../queue/keys.js';
import type { RouteEntry } from './user-file.js';

export class RouteTable {
  private readonly key: string;
  private readonly scratchKey: string;

  constructor(
    private readonly redis: Redis,
    keys: Pick<Keys, 'routes' | 'routesLoading'>,
    private readonly timeoutMs: number,
  ) {
    this.key = keys.routes;
    this.scratchKey = keys.routesLoading;
  }

  async lookup(address: string): Promise<string | null> {
    return withTimeout(this.redis.hget(this.key, address.toLowerCase()), this.timeoutMs, 'routing lookup');
  }

  async set(address: string, mailstore: string): Promise<void> {
    await withTimeout(this.redis.hset(this.key, address.toLowerCase(), mailstore), this.timeoutMs, 'routing update');
  }

  async remove(address: string): Promise<void> {
    await withTimeout(this.redis.hdel(this.key, address.toLowerCase()), this.timeoutMs, 'routing update');
  }

  async size(): Promise<number> {
    return withTimeout(this.redis.hlen(this.key), this.timeoutMs, 'routing table size');
  }

  /**
   * Loads entries in batches of 1,000 per HSET. With `replace`, the entries are loaded under a
   * scratch key that then replaces the table in one RENAME: lookups see the old table or the new
   * one, never half of it.
   */
  async bulkLoad(entries: readonly RouteEntry[], options: { replace?: boolean } = {}): Promise<number> {
    const target = options.replace ? this.scratchKey : this.key;
    const run = <T>(command: Promise<T>) => withTimeout(command, this.timeoutMs, 'routing bulk load');
    if (options.replace) await run(this.redis.del(target));
    for (let start = 0; start < entries.length; start += 1000) {
      const batch = entries
        .slice(start, start + 1000)
        .flatMap(({ address, mailstore }) => [address.toLowerCase(), mailstore]);
      await run(this.redis.hset(target, ...batch));
    }
    if (options.replace && entries.length > 0) await run(this.redis.rename(target, this.key));
    if (options.replace && entries.length === 0) await run(this.redis.del(this.key));
    return entries.length;
  }
}

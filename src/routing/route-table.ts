// The operator-managed routing table held in Redis: address -> mailstore, bulk-loadable.
import type { Redis } from 'ioredis';
import { withTimeout } from '../errors.js';
import type { Keys } from '../queue/keys.js';
import type { RouteEntry } from './user-file.js';
import type { TableAnswer } from './router.js';
import { wallClock } from '../clock.js';

/** Routes looked up lately, kept to answer from while the table cannot be read. */
const REMEMBERED_ROUTES = 100_000;
/** After a failed lookup, remembered routes are the answer for this long without asking Redis (wall clock). */
const BACK_OFF_MS = 5000;

export class RouteTable {
  private readonly key: string;
  private readonly scratchKey: string;
  /** Address -> its route at the last lookup that worked (null: none in the table), oldest first. */
  private readonly remembered = new Map<string, string | null>();
  /** Until when a remembered route is the answer without a lookup: each lookup would wait out the timeout. */
  private failingUntil = 0;

  constructor(
    private readonly redis: Redis,
    keys: Pick<Keys, 'routes' | 'routesLoading'>,
    private readonly timeoutMs: number,
    private readonly backOffMs = BACK_OFF_MS,
  ) {
    this.key = keys.routes;
    this.scratchKey = keys.routesLoading;
  }

  /**
   * The address's route in the table. While the table cannot be read (its Redis, or on a Cluster
   * its shard, failing over), the route this node last read for the address is the answer: a route
   * changed meanwhile is corrected before delivery, which looks the route up again. An address not
   * looked up lately gets the error (and the sender 451). After a failure, remembered addresses are
   * answered without asking Redis for a few seconds: each lookup would wait out its timeout.
   */
  async lookup(address: string): Promise<string | null> {
    return (await this.lookupEntry(address)).mailstore;
  }

  /** As lookup, saying whether the answer is a remembered one (the table could not be read). */
  async lookupEntry(address: string): Promise<TableAnswer> {
    const lower = address.toLowerCase();
    if (wallClock() < this.failingUntil && this.remembered.has(lower)) return this.rememberedAnswer(lower);
    try {
      const mailstore = await withTimeout(this.redis.hget(this.key, lower), this.timeoutMs, 'routing lookup');
      this.remember(lower, mailstore);
      return { mailstore, remembered: false };
    } catch (error) {
      this.failingUntil = wallClock() + this.backOffMs;
      if (this.remembered.has(lower)) return this.rememberedAnswer(lower);
      throw error;
    }
  }

  private rememberedAnswer(address: string): TableAnswer {
    return { mailstore: this.remembered.get(address)!, remembered: true };
  }

  private remember(address: string, route: string | null): void {
    this.remembered.delete(address); // re-inserted last: the oldest go first
    this.remembered.set(address, route);
    if (this.remembered.size > REMEMBERED_ROUTES) this.remembered.delete(this.remembered.keys().next().value!);
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

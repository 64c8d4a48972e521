// Live store overrides in Redis (endpoints, a move to another store), and each node's copy refreshed every second.
import { PollingLoop } from '../loops/polling-loop.js';
import type { Redis } from 'ioredis';
import { withTimeout } from '../errors.js';
import type { StoreOverrides } from '../policy/store-move.js';
import type { Keys } from '../queue/keys.js';

export class StoreOverridesRepository {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly mailstores: readonly string[],
    private readonly timeoutMs: number,
  ) {}

  /** Every store's overrides (stores without any are left out): one GET a store, each in its store's slot. */
  async readAll(): Promise<Map<string, StoreOverrides>> {
    const raw = await withTimeout(
      Promise.all(this.mailstores.map((mailstore) => this.redis.get(this.keys.mailstoreOverrides(mailstore)))),
      this.timeoutMs,
      'reading store overrides',
    );
    const overrides = new Map<string, StoreOverrides>();
    raw.forEach((value, index) => {
      if (value !== null) overrides.set(this.mailstores[index]!, JSON.parse(value) as StoreOverrides);
    });
    return overrides;
  }

  async write(mailstore: string, overrides: StoreOverrides): Promise<void> {
    const key = this.keys.mailstoreOverrides(mailstore);
    const empty = overrides.endpoints === undefined && overrides.movedTo === undefined;
    const write: Promise<unknown> = empty ? this.redis.del(key) : this.redis.set(key, JSON.stringify(overrides));
    await withTimeout(write, this.timeoutMs, 'writing store overrides');
  }
}

/** This node's copy of the overrides, for intake and delivery, which must not read Redis each time. */
export class OverridesCache {
  private current = new Map<string, StoreOverrides>();
  private readonly loop: PollingLoop;

  constructor(
    private readonly repository: StoreOverridesRepository,
    private readonly onChange: (mailstore: string, overrides: StoreOverrides) => void = () => undefined,
    intervalMs = 1000,
  ) {
    this.loop = new PollingLoop(() => this.refresh(), intervalMs);
  }

  get overrides(): ReadonlyMap<string, StoreOverrides> {
    return this.current;
  }

  start(): Promise<void> {
    return this.loop.start({ runFirst: true });
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Reads them again now (also after an operator changed them on this node). */
  async refresh(): Promise<void> {
    const next = await this.repository.readAll();
    const stores = new Set([...this.current.keys(), ...next.keys()]);
    const previous = this.current;
    this.current = next;
    for (const mailstore of stores) {
      const before = JSON.stringify(previous.get(mailstore) ?? {});
      const after = next.get(mailstore) ?? {};
      if (before !== JSON.stringify(after)) this.onChange(mailstore, after);
    }
  }
}

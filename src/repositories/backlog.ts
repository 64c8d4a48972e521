// Reads a store's backlog (mail still to deliver) from its arrival-ordered index: never reads a job.
import type { Redis } from 'ioredis';
import { withTimeout } from '../errors.js';
import type { Keys } from '../queue/keys.js';

export interface Backlog {
  messages: number;
  bytes: number;
  /** Arrival time of the oldest message still to deliver, if any. */
  oldestReceivedAt?: number;
}

export class Backlogs {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly timeoutMs: number,
  ) {}

  async read(mailstore: string): Promise<Backlog> {
    const results = await withTimeout(
      this.redis
        .multi()
        .zcard(this.keys.mailstoreBacklog(mailstore))
        .get(this.keys.mailstoreBacklogBytes(mailstore))
        .zrange(this.keys.mailstoreBacklog(mailstore), '0', '0', 'WITHSCORES')
        .exec(),
      this.timeoutMs,
      'reading a backlog',
    );
    const [count, bytes, oldest] = (results ?? []).map(([error, value]) => {
      if (error) throw error;
      return value;
    }) as [number, string | null, string[]];
    return {
      messages: count,
      bytes: Math.max(0, Number(bytes ?? 0)),
      ...(oldest[1] === undefined ? {} : { oldestReceivedAt: Number(oldest[1]) }),
    };
  }

  /**
   * How many of the store's messages arrived at or before each of the given times, in one round
   * trip (ZCOUNT is logarithmic: cheap at any backlog size).
   */
  async arrivedByEach(mailstore: string, times: readonly number[]): Promise<number[]> {
    const transaction = this.redis.multi();
    for (const time of times) transaction.zcount(this.keys.mailstoreBacklog(mailstore), '-inf', time);
    const results = await withTimeout(transaction.exec(), this.timeoutMs, 'counting a backlog by age');
    return (results ?? []).map(([error, value]) => {
      if (error) throw error;
      return value as number;
    });
  }
}

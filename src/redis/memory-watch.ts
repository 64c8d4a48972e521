// Polls Redis memory once a second so intake can answer 452 without a round trip per message.
import { PollingLoop } from '../loops/polling-loop.js';
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import { withTimeout } from '../errors.js';

export interface MemoryReading {
  usedBytes: number;
  maxBytes: number;
}

export function parseMemoryInfo(info: string): MemoryReading {
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return { usedBytes: field('used_memory'), maxBytes: field('maxmemory') };
}

export class MemoryWatch {
  private high = false;
  private readonly loop: PollingLoop;
  private reading: MemoryReading | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly highWater: number,
    private readonly logger: Logger,
    intervalMs = 1000,
  ) {
    this.loop = new PollingLoop(() => this.poll(), intervalMs);
  }

  /** True when Redis memory is above the high-water mark at the last reading. */
  get aboveHighWater(): boolean {
    return this.high;
  }

  get lastReading(): MemoryReading | undefined {
    return this.reading;
  }

  start(): Promise<void> {
    return this.loop.start({ runFirst: true });
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  async poll(): Promise<void> {
    try {
      const info = await withTimeout(this.redis.info('memory'), 2000, 'INFO memory');
      this.reading = parseMemoryInfo(info);
    } catch {
      return; // an unreachable Redis is caught by intake itself (451); keep the last reading
    }
    const { usedBytes, maxBytes } = this.reading;
    const high = maxBytes > 0 && usedBytes >= maxBytes * this.highWater;
    if (high !== this.high) {
      this.high = high;
      this.logger.warn(
        {
          event: high ? EVENTS.redisMemoryHigh : EVENTS.redisMemoryNormal,
          usedBytes,
          maxBytes,
          highWater: this.highWater,
        },
        high
          ? 'redis memory above high-water mark: refusing new mail with 452'
          : 'redis memory back below high-water mark',
      );
    }
  }
}

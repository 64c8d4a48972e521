// Reads queued messages for delivery and releases their body when the last delivery job ends.
import type { Redis } from 'ioredis';
import { withTimeout } from '../errors.js';
import type { Keys } from './keys.js';

/** Removes one job's member from the message's pending set; the last one out deletes the message. */
const FINISH_SCRIPT = `
local removed = redis.call('SREM', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2], KEYS[3])
end
return removed`;

export interface StoredMessage {
  body: Buffer;
}

export class Spool {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly timeoutMs: number,
  ) {}

  /** True while this job's delivery of the message has not ended (guards against re-runs). */
  async isPending(queueId: string, member: string): Promise<boolean> {
    const found = await withTimeout(
      this.redis.sismember(this.keys.pending(queueId), member),
      this.timeoutMs,
      'SISMEMBER',
    );
    return found === 1;
  }

  async readBody(queueId: string): Promise<Buffer | null> {
    return withTimeout(this.redis.getBuffer(this.keys.body(queueId)), this.timeoutMs, 'reading a message body');
  }

  /** Ends one job's part (its pending member); idempotent: finishing twice removes nothing more. */
  async finish(queueId: string, member: string): Promise<void> {
    const keys = [this.keys.pending(queueId), this.keys.body(queueId), this.keys.message(queueId)];
    await withTimeout(
      this.redis.eval(FINISH_SCRIPT, keys.length, ...keys, member),
      this.timeoutMs,
      'finishing a delivery',
    );
  }
}

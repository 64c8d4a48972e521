// Writes a large message's bytes into Redis while they arrive, so that the SMTP front never holds a
// whole large message in memory; the commit (enqueue.ts) renames them into the message body.
import type { Redis } from 'ioredis';
import { withTimeout } from '../errors.js';
import type { Keys } from './keys.js';

/**
 * A partial body outlives a session that died without discarding it (a crash) only this long.
 * Each chunk renews it; a session is cut off after `limits.timeouts.socket` of silence, far less.
 */
const ABANDONED_AFTER_MS = 60 * 60 * 1000;

export class IncomingBodies {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly timeoutMs: number,
  ) {}

  /** Appends a chunk to the message's partial body; throws when Redis did not take it. */
  async append(queueId: string, chunk: Buffer): Promise<void> {
    const key = this.keys.incomingBody(queueId);
    const results = await withTimeout(
      this.redis.multi().append(key, chunk).pexpire(key, ABANDONED_AFTER_MS).exec(),
      this.timeoutMs,
      'appending to a message body',
    );
    const failed = results?.find(([error]) => error)?.[0];
    if (!results || failed) throw failed ?? new Error('append transaction aborted');
  }

  /** Drops the partial body of a message that will not be committed; best effort (it expires anyway). */
  async discard(queueId: string): Promise<void> {
    await this.redis.del(this.keys.incomingBody(queueId)).catch(() => undefined);
  }
}

// Writes a large message's bytes into Redis while they arrive, so that the SMTP front never holds a
// whole large message in memory; the commit (enqueue.ts) renames them into each store's job copy.
// A message for several stores is appended to each store's key, in that store's slot.
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

  /** Appends a chunk to the message's partial body for each of its stores; throws when Redis did not take it. */
  async append(queueId: string, mailstores: readonly string[], chunk: Buffer): Promise<void> {
    const appended = mailstores.map((mailstore) => {
      const key = this.keys.incomingBody(mailstore, queueId);
      return this.redis.multi().append(key, chunk).pexpire(key, ABANDONED_AFTER_MS).exec();
    });
    const results = await withTimeout(Promise.all(appended), this.timeoutMs, 'appending to a message body');
    for (const result of results) {
      const failed = result?.find(([error]) => error)?.[0];
      if (!result || failed) throw failed ?? new Error('append transaction aborted');
    }
  }

  /** Drops the partial bodies of a message that will not be committed; best effort (they expire anyway). */
  async discard(queueId: string, mailstores: readonly string[]): Promise<void> {
    const keys = mailstores.map((mailstore) => this.keys.incomingBody(mailstore, queueId));
    await Promise.all(keys.map((key) => this.redis.del(key).catch(() => undefined)));
  }
}

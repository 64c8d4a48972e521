// The safety net's storage: copies of delivered mail per store, as queued (gzip'd by default), bounded by age and bytes.
import type { Redis } from 'ioredis';
import { withTimeout } from '../errors.js';
import { readTogether, type Read } from '../redis/connections.js';
import { LuaScript } from '../redis/scripts.js';
import type { RetainedDelivery } from '../policy/retention.js';
import { bodyKeyOf, type Keys } from '../queue/keys.js';
import { decodeBody } from '../queue/body-codec.js';

/** Most copies one script call drops: an expired day is worked off in steps, not in one long script. */
export const DROP_LIMIT = 2000;

/** Drops a store's copies past the period, then the oldest over its budget. */
const SWEEP_SCRIPT = new LuaScript<[number, number, string[]]>('retention-sweep');

/** Copies the queued body into a retained entry, listed with its cost and metadata. */
const KEEP_SCRIPT = new LuaScript<[number, number, StoreOutcome, string[]?]>('retention-keep');

const MARK_GAP_SCRIPT = new LuaScript('retention-mark-gap');

export interface RetentionSettings {
  enabled: boolean;
  /** Milliseconds a copy is kept after its delivery. */
  period: number;
  /** Stored bytes (compressed bodies and metadata) the store's copies may take. */
  budget: number;
}

/** Copies dropped by a trim: past the period, or the oldest to stay within the budget. */
export interface Dropped {
  expired: number;
  budget: number;
}

/**
 * Stored, or why not: a copy of this delivery exists already, the queued body is gone, it alone
 * exceeds the budget, or older copies could not make room.
 */
export type StoreOutcome = 'kept' | 'exists' | 'gone' | 'too-big' | 'no-room';

export interface RetentionStatus {
  /** Copies kept and their stored bytes. */
  messages: number;
  bytes: number;
  /** Delivery time of the oldest copy. */
  oldestAt?: number;
  /** Copies of deliveries up to this time were dropped or never kept: a replay from earlier is incomplete. */
  gapUntil?: number;
}

/** A retained delivery as listed for a replay. */
export interface RetainedEntry {
  entryId: string;
  delivery: RetainedDelivery;
}

/** Past the period, a copy's key expires by itself too: a store whose sweeps stop leaves nothing behind for long. */
const EXPIRY_MARGIN_MS = 3600_000;

export class RetainedMail {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Keeps a copy of one delivery (idempotent by entry id): Redis copies the queued body, as it is
   * stored, into the entry, so its bytes do not travel again; `storedBytes` is that body's size in
   * Redis. Over the budget the store's oldest copies go first, in the same script, so that nodes
   * storing at once agree on the index and its byte count. Copies past the period are the sweep's.
   */
  async store(
    entryId: string,
    delivery: RetainedDelivery,
    /** The delivered job: its copy of the bytes (or, queued before per-job copies, the message's) is kept. */
    job: { jobId: string; ownCopy?: boolean },
    storedBytes: number,
    settings: RetentionSettings,
  ): Promise<{ outcome: StoreOutcome; dropped: Dropped }> {
    const meta = JSON.stringify(delivery);
    const cost = storedBytes + Buffer.byteLength(meta);
    const { mailstore } = delivery;
    const keys = [
      ...this.trimKeys(mailstore),
      this.keys.retainedEntry(mailstore, entryId),
      bodyKeyOf(this.keys, { ...job, mailstore, queueId: delivery.queueId }),
    ];
    const argv = [
      this.keys.retainedEntry(mailstore, ''),
      String(settings.budget),
      String(DROP_LIMIT),
      `${entryId}:${cost}:${meta}`,
      String(delivery.deliveredAt),
      String(settings.period + EXPIRY_MARGIN_MS),
      String(cost),
    ];
    const [, budget, outcome, unlinked = []] = await withTimeout(
      KEEP_SCRIPT.run(this.redis, keys, argv),
      this.timeoutMs,
      'retaining a copy',
    );
    await this.unlink(unlinked);
    return { outcome, dropped: { expired: 0, budget } };
  }

  /** Drops the store's copies past the period, then the oldest over its budget (up to DROP_LIMIT of each per call). */
  async sweep(mailstore: string, settings: RetentionSettings, now: number): Promise<Dropped> {
    const keys = this.trimKeys(mailstore);
    const [expired, budget, unlinked] = await withTimeout(
      SWEEP_SCRIPT.run(this.redis, keys, this.trimArguments(mailstore, settings, now)),
      this.timeoutMs,
      'sweeping retained copies',
    );
    await this.unlink(unlinked);
    return { expired, budget };
  }

  /**
   * Deletes the copies a script dropped from the index (it names them: see includes/retention-trim.lua).
   * One store's copies are in one slot: one command for up to a script's DROP_LIMIT of them. A
   * failure is not the caller's: the copy was kept (or the sweep done), and a dropped copy left
   * behind expires by itself.
   */
  private async unlink(entries: readonly string[]): Promise<void> {
    if (entries.length === 0) return;
    await withTimeout(this.redis.unlink(...entries), this.timeoutMs, 'deleting dropped copies').catch(() => undefined);
  }

  /** Records that the copy of a delivery at `at` was not kept (Redis near full, an error). */
  async markGap(mailstore: string, at: number): Promise<void> {
    await withTimeout(
      MARK_GAP_SCRIPT.run(this.redis, [this.keys.retainedGapUntil(mailstore)], [String(at)]),
      this.timeoutMs,
      'marking a retention gap',
    );
  }

  async status(mailstore: string): Promise<RetentionStatus> {
    const results = await withTimeout(
      this.redis
        .multi()
        .zcard(this.keys.retainedIndex(mailstore))
        .get(this.keys.retainedBytes(mailstore))
        .zrange(this.keys.retainedIndex(mailstore), '0', '0', 'WITHSCORES')
        .get(this.keys.retainedGapUntil(mailstore))
        .exec(),
      this.timeoutMs,
      'reading retained copies',
    );
    const [messages, bytes, oldest, gap] = (results ?? []).map(([error, value]) => {
      if (error) throw error;
      return value;
    });
    const oldestScore = (oldest as string[] | undefined)?.[1];
    return {
      messages: Number(messages ?? 0),
      bytes: Number(bytes ?? 0),
      ...(oldestScore === undefined ? {} : { oldestAt: Number(oldestScore) }),
      ...(gap === null || gap === undefined ? {} : { gapUntil: Number(gap) }),
    };
  }

  /** The store's copies delivered from `since` to `until` (inclusive), oldest first; copies gone meanwhile are left out. */
  async entries(mailstore: string, since: number, until: number): Promise<RetainedEntry[]> {
    const members = await withTimeout(
      this.redis.zrangebyscore(this.keys.retainedIndex(mailstore), since, until),
      this.timeoutMs,
      'listing retained copies',
    );
    const entries: Array<RetainedEntry | string> = members.map((member) => {
      const match = /^([^:]+):\d+(?::(.*))?$/s.exec(member);
      const [entryId, meta] = [match?.[1] ?? member, match?.[2]];
      return meta === undefined ? entryId : { entryId, delivery: JSON.parse(meta) as RetainedDelivery };
    });
    // Copies kept before the metadata moved into the index member keep it in their hash.
    const older = entries.filter((entry): entry is string => typeof entry === 'string');
    const metas = new Map<string, RetainedDelivery>();
    for (let start = 0; start < older.length; start += 500) {
      const page = older.slice(start, start + 500);
      const reads = page.map(
        (entryId): Read =>
          (client) =>
            client.hget(this.keys.retainedEntry(mailstore, entryId), 'meta'),
      );
      const results = await withTimeout(readTogether(this.redis, reads), this.timeoutMs, 'reading retained copies');
      page.forEach((entryId, index) => {
        const meta = results[index];
        if (typeof meta === 'string') metas.set(entryId, JSON.parse(meta) as RetainedDelivery);
      });
    }
    return entries.flatMap((entry) => {
      if (typeof entry !== 'string') return [entry];
      const delivery = metas.get(entry);
      return delivery === undefined ? [] : [{ entryId: entry, delivery }];
    });
  }

  /** The delivered bytes of one copy, or null when it was dropped meanwhile. */
  async body(mailstore: string, entryId: string): Promise<Buffer | null> {
    const key = this.keys.retainedEntry(mailstore, entryId);
    const read = async () => {
      try {
        return await this.redis.getBuffer(key);
      } catch (error) {
        // A copy kept before copies became plain strings: a hash with `meta` and a gzip `body`.
        if (!String(error).includes('WRONGTYPE')) throw error;
        return this.redis.hgetBuffer(key, 'body');
      }
    };
    const stored = await withTimeout(read(), this.timeoutMs, 'reading a retained copy');
    return stored === null ? null : decodeBody(stored);
  }

  private trimKeys(mailstore: string): string[] {
    const { keys } = this;
    return [keys.retainedIndex(mailstore), keys.retainedBytes(mailstore), keys.retainedGapUntil(mailstore)];
  }

  private trimArguments(mailstore: string, settings: RetentionSettings, now: number): string[] {
    const prefix = this.keys.retainedEntry(mailstore, '');
    return [prefix, String(Math.floor(now - settings.period)), String(settings.budget), String(DROP_LIMIT)];
  }
}

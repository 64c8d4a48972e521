// The safety net's storage: gzip copies of delivered mail per store, bounded by age and bytes, trimmed atomically.
import type { Redis } from 'ioredis';
import { withTimeout } from '../errors.js';
import { LuaScript } from '../redis/scripts.js';
import type { RetainedDelivery } from '../policy/retention.js';
import type { Keys } from './keys.js';
import { compress, decompress } from './body-codec.js';

/** Most entries one script call drops: a budget cut by a config change is worked off in steps, not in one long script. */
export const DROP_LIMIT = 1000;

/**
 * KEYS: index, bytes, gap-until (then the entry, for KEEP). ARGV[1..4]: entry key prefix, cutoff
 * (older copies are past the period), budget, limit. Index members are `entryId:cost`, so a drop
 * needs no read; each drop moves gap-until up to the dropped copy's delivery time.
 */
const TRIM = `
local prefix, cutoff, budget, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local function mark_gap(score)
  if tonumber(score) > tonumber(redis.call('GET', KEYS[3]) or '0') then redis.call('SET', KEYS[3], score) end
end
local function drop(member, score)
  redis.call('ZREM', KEYS[1], member)
  local id, cost = string.match(member, '^(.+):(%d+)$')
  if id then
    redis.call('DEL', prefix .. id)
    redis.call('DECRBY', KEYS[2], cost)
  end
  mark_gap(score)
end
local function used()
  return tonumber(redis.call('GET', KEYS[2]) or '0')
end
local expired = 0
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'WITHSCORES', 'LIMIT', 0, limit)
for index = 1, #old, 2 do
  drop(old[index], old[index + 1])
  expired = expired + 1
end
local over = 0
local function make_room(needed)
  while used() + needed > budget and over < limit do
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    if #oldest == 0 then
      redis.call('SET', KEYS[2], 0)
      return used() + needed <= budget
    end
    drop(oldest[1], oldest[2])
    over = over + 1
  end
  return used() + needed <= budget
end
`;

const SWEEP_SCRIPT = new LuaScript<[number, number]>(
  'retention_sweep',
  `${TRIM}
make_room(0)
return {expired, over}`,
);

/** ARGV[5..]: member, delivery time, meta, body, ttl, cost. Returns {kept (1/0), expired, over, outcome}. */
const KEEP_SCRIPT = new LuaScript<[number, number, number, StoreOutcome]>(
  'retention_keep',
  `${TRIM}
local member, score, cost = ARGV[5], ARGV[6], tonumber(ARGV[10])
if redis.call('EXISTS', KEYS[4]) == 1 then return {0, expired, over, 'exists'} end
if cost > budget then
  mark_gap(score)
  return {0, expired, over, 'too-big'}
end
if not make_room(cost) then
  mark_gap(score)
  return {0, expired, over, 'no-room'}
end
redis.call('HSET', KEYS[4], 'meta', ARGV[7], 'body', ARGV[8])
redis.call('PEXPIRE', KEYS[4], ARGV[9])
redis.call('ZADD', KEYS[1], score, member)
redis.call('INCRBY', KEYS[2], cost)
return {1, expired, over, 'kept'}`,
);

const MARK_GAP_SCRIPT = new LuaScript(
  'retention_mark_gap',
  `
if tonumber(ARGV[1]) > tonumber(redis.call('GET', KEYS[1]) or '0') then redis.call('SET', KEYS[1], ARGV[1]) end
return 1`,
);

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

/** Stored, or why not: a copy of this delivery exists already, it alone exceeds the budget, or older copies could not make room. */
export type StoreOutcome = 'kept' | 'exists' | 'too-big' | 'no-room';

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
   * Stores a gzip copy of one delivery (idempotent by entry id), after dropping the store's copies
   * past the period and, oldest first, as many as its budget needs: all in one script, so that
   * nodes storing at once agree on the index and its byte count.
   */
  async store(
    entryId: string,
    delivery: RetainedDelivery,
    body: Buffer,
    settings: RetentionSettings,
    now: number,
  ): Promise<{ outcome: StoreOutcome; dropped: Dropped }> {
    const compressed = await compress(body);
    const meta = JSON.stringify(delivery);
    const cost = compressed.length + Buffer.byteLength(meta);
    const { mailstore } = delivery;
    const keys = [...this.trimKeys(mailstore), this.keys.retainedEntry(mailstore, entryId)];
    const argv = [
      ...this.trimArguments(mailstore, settings, now),
      `${entryId}:${cost}`,
      String(delivery.deliveredAt),
      meta,
      compressed,
      String(settings.period + EXPIRY_MARGIN_MS),
      String(cost),
    ];
    const result = await withTimeout(KEEP_SCRIPT.run(this.redis, keys, argv), this.timeoutMs, 'retaining a copy');
    return { outcome: result[3], dropped: { expired: result[1], budget: result[2] } };
  }

  /** Drops the store's copies past the period, then the oldest over its budget (up to DROP_LIMIT of each per call). */
  async sweep(mailstore: string, settings: RetentionSettings, now: number): Promise<Dropped> {
    const keys = this.trimKeys(mailstore);
    const [expired, budget] = await withTimeout(
      SWEEP_SCRIPT.run(this.redis, keys, this.trimArguments(mailstore, settings, now)),
      this.timeoutMs,
      'sweeping retained copies',
    );
    return { expired, budget };
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
    const ids = members.map((member) => member.slice(0, member.lastIndexOf(':')));
    const entries: RetainedEntry[] = [];
    for (let start = 0; start < ids.length; start += 500) {
      const page = ids.slice(start, start + 500);
      const pipeline = this.redis.pipeline();
      for (const entryId of page) pipeline.hget(this.keys.retainedEntry(mailstore, entryId), 'meta');
      const results = await withTimeout(pipeline.exec(), this.timeoutMs, 'reading retained copies');
      page.forEach((entryId, index) => {
        const [error, meta] = results?.[index] ?? [null, null];
        if (error) throw error;
        if (typeof meta === 'string') entries.push({ entryId, delivery: JSON.parse(meta) as RetainedDelivery });
      });
    }
    return entries;
  }

  /** The delivered bytes of one copy, or null when it was dropped meanwhile. */
  async body(mailstore: string, entryId: string): Promise<Buffer | null> {
    const stored = await withTimeout(
      this.redis.hgetBuffer(this.keys.retainedEntry(mailstore, entryId), 'body'),
      this.timeoutMs,
      'reading a retained copy',
    );
    return stored === null ? null : decompress(stored);
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

// Redis figures for bench/status-scale.ts: INFO fields, MEMORY STATS, and what each kind of key costs.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Keys } from '../src/queue/keys.js';

/** The numeric fields of an INFO section ("name:value" lines); non-numeric ones are left out. */
export function parseInfo(text: string): Map<string, number> {
  const fields = new Map<string, number>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0 || line.startsWith('#')) continue;
    const value = Number(line.slice(colon + 1));
    if (Number.isFinite(value)) fields.set(line.slice(0, colon), value);
  }
  return fields;
}

/** One INFO section as numbers. */
export async function info(redis: Redis, section: string): Promise<Map<string, number>> {
  return parseInfo(await redis.info(section));
}

/** sizeof(dictEntry) + sizeof(robj) on 64-bit Redis 7.0 (a check: 1,000 keys gave 1,000 x 40 + 1,024 slots x 8). */
const PER_KEY_OVERHEAD_BYTES = 40;

export interface MemoryFigures {
  usedMemory: number;
  usedMemoryRss: number;
  /** MEMORY STATS keys.count. */
  keys: number;
  /**
   * The main key table's bucket array: MEMORY STATS overhead.hashtable.main less a dictEntry and a
   * value object (24 + 16 B) per key, which Redis 7.0 counts there and in each key's MEMORY USAGE alike.
   */
  mainTableBuckets: number;
}

/** MEMORY STATS is a list of name, value, name, value ...; a value may be such a list itself (db.0). */
export function memoryStatsField(stats: unknown[], name: string): number {
  for (let index = 0; index + 1 < stats.length; index += 2) {
    const value = stats[index + 1];
    if (stats[index] === name) return Number(value);
    if (Array.isArray(value)) {
      const nested = memoryStatsField(value, name);
      if (!Number.isNaN(nested)) return nested;
    }
  }
  return Number.NaN;
}

export async function memoryFigures(redis: Redis): Promise<MemoryFigures> {
  const memory = await info(redis, 'memory');
  const stats = (await redis.call('MEMORY', 'STATS')) as unknown[];
  const keys = memoryStatsField(stats, 'keys.count');
  return {
    usedMemory: memory.get('used_memory') ?? Number.NaN,
    usedMemoryRss: memory.get('used_memory_rss') ?? Number.NaN,
    keys,
    mainTableBuckets: memoryStatsField(stats, 'overhead.hashtable.main') - keys * PER_KEY_OVERHEAD_BYTES,
  };
}

/**
 * Waits until no AOF rewrite runs or is scheduled (it forks and rewrites the whole dataset, which
 * would be measured along with the status calls). Returns how many ms it waited.
 */
export async function waitForAofRewrite(redis: Redis, maxWaitMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const persistence = await info(redis, 'persistence');
    const busy = (persistence.get('aof_rewrite_in_progress') ?? 0) + (persistence.get('aof_rewrite_scheduled') ?? 0);
    if (busy === 0 || Date.now() - started > maxWaitMs) return Date.now() - started;
    await sleep(500);
  }
}

export interface KeyKind {
  kind: string;
  /** OBJECT ENCODING of the key (the first one sampled, for a message's own keys). */
  encoding: string;
  /** MEMORY USAGE (SAMPLES 0: every element) per message: mean over the sample, or the shared key / messages. */
  bytesPerMessage: number;
}

async function usage(redis: Redis, key: string): Promise<number> {
  return Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
}

async function encoding(redis: Redis, key: string): Promise<string> {
  return String(await redis.call('OBJECT', 'ENCODING', key));
}

/**
 * MEMORY USAGE of each kind of key a queued message has: its own keys (the job's copy of the bytes,
 * BullMQ job hash), averaged over `queueIds`; and its share of the store's shared keys (the
 * backlog sorted set, BullMQ's wait list), i.e. their usage / `messages`.
 */
export async function keyProfile(
  redis: Redis,
  keys: Keys,
  mailstore: string,
  queueIds: readonly string[],
  messages: number,
): Promise<KeyKind[]> {
  const jobKey = (queueId: string) => `${keys.bullmqPrefix(mailstore)}:${mailstore}:${queueId}`;
  const ownKinds: Array<[string, (queueId: string) => string]> = [
    ['job copy of the bytes (string)', (queueId) => keys.jobBody(mailstore, queueId)],
    ['BullMQ job (hash)', jobKey],
  ];
  const kinds: KeyKind[] = [];
  for (const [kind, keyOf] of ownKinds) {
    let total = 0;
    for (const queueId of queueIds) total += await usage(redis, keyOf(queueId));
    kinds.push({
      kind,
      encoding: await encoding(redis, keyOf(queueIds[0]!)),
      bytesPerMessage: total / queueIds.length,
    });
  }
  const shared: Array<[string, string]> = [
    ['backlog entry (sorted set)', keys.mailstoreBacklog(mailstore)],
    ['BullMQ wait list entry', `${keys.bullmqPrefix(mailstore)}:${mailstore}:wait`],
  ];
  for (const [kind, key] of shared) {
    kinds.push({ kind, encoding: await encoding(redis, key), bytesPerMessage: (await usage(redis, key)) / messages });
  }
  return kinds;
}

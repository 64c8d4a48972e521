// The key layout's version in Redis, and the one-time upgrade of keys written by an earlier layout.
//
// Layout 2 puts every key of a mailstore under its hash tag (`<p>:{<id>}:...`, BullMQ's queue
// included), so that on a Redis Cluster a store's keys, scripts and transactions stay in one slot.
// A Redis written by layout 1 has its store keys renamed once, at the start of the first node of
// the new version, before any of its queues or workers run: while a worker of the earlier version
// is still connected the start is refused, as their keys would be moved under them.
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { HoldfastError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { isCluster } from '../redis/connections.js';
import { EVENTS } from '../observability/events.js';
import { layoutOne, type Keys, KEY_LAYOUT } from './keys.js';
import { Deadline, elapsedSince, wallClock } from '../clock.js';

/** How long a node waits for another node's upgrade to finish before it gives up starting. */
const WAIT_FOR_UPGRADE_MS = 30 * 60_000;
/** The upgrading node's lock lasts this long, and is renewed at each batch. */
const LOCK_MS = 60_000;
/** Keys renamed per round trip. */
const BATCH = 1000;

export interface LayoutOptions {
  /** Mailstores of the configuration: their earlier queues are checked for connected workers. */
  mailstores: readonly string[];
  logger: Logger;
  /** Polling pace while another node upgrades (tests shorten it). */
  pollMs?: number;
}

/**
 * Makes sure Redis holds the current key layout: a fresh Redis is marked; one written by layout 1
 * is upgraded by one node while the others wait; a layout newer than this version is refused.
 * Returns how many keys this node renamed.
 */
export async function ensureKeyLayout(redis: Redis, keys: Keys, options: LayoutOptions): Promise<number> {
  const deadline = new Deadline(WAIT_FOR_UPGRADE_MS);
  for (;;) {
    const version = await currentLayout(redis, keys);
    if (version === KEY_LAYOUT) return 0;
    if (version > KEY_LAYOUT) {
      throw new HoldfastError(
        'REFUSED',
        `Redis holds key layout ${version}, written by a newer Holdfast; this version knows layout ${KEY_LAYOUT}`,
      );
    }
    const token = Math.random().toString(36).slice(2);
    if ((await redis.set(keys.layoutLock, token, 'PX', LOCK_MS, 'NX')) === 'OK') {
      try {
        return await upgrade(redis, keys, token, options);
      } finally {
        if ((await redis.get(keys.layoutLock)) === token) await redis.del(keys.layoutLock);
      }
    }
    if (deadline.passed) {
      throw new HoldfastError('TIMEOUT', 'waited too long for another node to upgrade the Redis key layout');
    }
    await sleep(options.pollMs ?? 1000);
  }
}

async function currentLayout(redis: Redis, keys: Keys): Promise<number> {
  const stored = await redis.get(keys.layout);
  return stored === null ? 1 : Number(stored);
}

async function upgrade(redis: Redis, keys: Keys, token: string, options: LayoutOptions): Promise<number> {
  // Checked again under the lock: another node may have finished meanwhile.
  if ((await currentLayout(redis, keys)) === KEY_LAYOUT) return 0;
  const earlier = layoutOne(keys.prefix);
  // No earlier version ran on a Cluster (it refused one): there is nothing to rename.
  const patterns = isCluster(redis) ? [] : earlier.patterns;
  if (patterns.length > 0) await refuseEarlierWorkers(redis, earlier.bullmqPrefix, options.mailstores);
  const started = wallClock();
  let renamed = 0;
  for (const pattern of patterns) {
    let cursor = '0';
    do {
      const [next, names] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', BATCH);
      cursor = next;
      const moves = names.flatMap((name) => {
        const target = earlier.rename(name);
        return target === undefined ? [] : [[name, target] as const];
      });
      if (moves.length === 0) continue;
      const pipeline = redis.pipeline();
      for (const [from, to] of moves) pipeline.renamenx(from, to);
      pipeline.pexpire(keys.layoutLock, LOCK_MS);
      const results = (await pipeline.exec()) ?? [];
      for (const [index, [from, to]] of moves.entries()) {
        const [error, value] = results[index] ?? [new Error('no reply'), null];
        // A key gone meanwhile (an expiry) is no loss; one already there under its new name would be.
        if (error && !/no such key/i.test(String(error))) throw error;
        if (value === 0) throw new Error(`cannot rename ${from}: ${to} exists already`);
        if (!error) renamed++;
      }
      if ((await redis.get(keys.layoutLock)) !== token) throw new Error('lost the key layout lock while upgrading');
    } while (cursor !== '0');
  }
  await redis.set(keys.layout, String(KEY_LAYOUT));
  options.logger.info(
    { event: EVENTS.keyLayoutUpgraded, from: 1, to: KEY_LAYOUT, renamed, ms: elapsedSince(started) },
    renamed === 0 ? 'Redis key layout marked' : 'Redis key layout upgraded: store keys moved under their hash tags',
  );
  return renamed;
}

/** Workers of the earlier version would lose their keys under them: every node must run this version. */
async function refuseEarlierWorkers(redis: Redis, bullmqPrefix: string, mailstores: readonly string[]): Promise<void> {
  for (const mailstore of mailstores) {
    const queue = new Queue(mailstore, { connection: redis, prefix: bullmqPrefix });
    try {
      const workers = await queue.getWorkersCount();
      if (workers > 0) {
        throw new HoldfastError(
          'REFUSED',
          `${workers} delivery worker(s) of an earlier Holdfast are connected to mailstore ${mailstore}'s queue: ` +
            'stop every node of the earlier version before starting this one (it upgrades the Redis key layout)',
        );
      }
    } finally {
      await queue.close();
    }
  }
}

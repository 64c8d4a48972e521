// What a test relay holds in Redis: the queue ids of its stored messages, and a message's stored bytes.
import type { Redis } from 'ioredis';
import { createKeys } from '../../src/queue/keys.js';
import { decodeBody } from '../../src/queue/body-codec.js';
import type { TestRelay } from './relay.js';
import { waitFor } from './wait.js';

/** The names of every job's copy of the message bytes (each store's, each job's), or of one message's. */
export async function jobCopies(prefix: string, client: Redis, queueId = '*'): Promise<string[]> {
  const names = await client.keys(createKeys(prefix).jobBody('*', queueId));
  // A job made later for moved recipients is `<queueId>-<suffix>`: it is the same message's.
  const extra = queueId === '*' ? [] : await client.keys(createKeys(prefix).jobBody('*', `${queueId}-*`));
  return [...names, ...extra].sort();
}

/** Queue ids of every message the relay has stored and not yet delivered, sorted. */
export async function queuedIds(relay: TestRelay, client: Redis): Promise<string[]> {
  const names = await jobCopies(relay.config.redis.prefix, client);
  const ids = names.map((name) => name.slice(name.lastIndexOf(':') + 1).split('-')[0]!);
  return [...new Set(ids)].sort();
}

/** The bytes of a queued message as received (its Received header included), however they are stored. */
export async function storedBody(relay: TestRelay, client: Redis, queueId: string): Promise<Buffer> {
  const [name] = await client.keys(createKeys(relay.config.redis.prefix).jobBody('*', queueId));
  const body = name === undefined ? null : await client.getBuffer(name);
  if (!body) throw new Error(`no stored body for ${queueId}`);
  return decodeBody(body);
}

/**
 * Resolves once each store named in `backlogs` (every store when it is omitted, each with nothing
 * left) has no delivery running and that many messages queued: from then on nothing more is
 * delivered until something changes. A test waits for this, rather than sleeping, before it asserts
 * that nothing (more) arrived. `undefined` for a store: any backlog, only nothing running.
 */
export async function waitForQuietStores(
  relay: TestRelay,
  backlogs?: Record<string, number | undefined>,
  timeoutMs = 15_000,
): Promise<void> {
  const quiet = async () => {
    const status = await relay.app.mailstoreAdmin!.status();
    return status
      .filter(({ mailstore }) => backlogs === undefined || mailstore in backlogs)
      .every(({ mailstore, counts, backlog }) => {
        const expected = backlogs === undefined ? 0 : backlogs[mailstore];
        return counts.active === 0 && (expected === undefined || backlog.messages === expected);
      });
  };
  await waitFor(quiet, timeoutMs, `quiet stores ${JSON.stringify(backlogs ?? 'all empty')}`);
}

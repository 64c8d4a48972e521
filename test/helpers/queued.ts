// What a test relay holds in Redis: the queue ids of its stored messages, and a message's stored bytes.
import type { Redis } from 'ioredis';
import { createKeys } from '../../src/queue/keys.js';
import { decodeBody } from '../../src/queue/body-codec.js';
import type { TestRelay } from './relay.js';

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

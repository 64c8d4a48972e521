// What a test relay holds in Redis: the queue ids of its stored messages, and a message's stored bytes.
import type { Redis } from 'ioredis';
import { createKeys } from '../../src/queue/keys.js';
import { decodeBody } from '../../src/queue/body-codec.js';
import type { TestRelay } from './relay.js';

/** Queue ids of every message the relay has stored and not yet delivered, sorted. */
export async function queuedIds(relay: TestRelay, client: Redis): Promise<string[]> {
  const keys = createKeys(relay.config.redis.prefix);
  const marker = keys.message('');
  const names = await client.keys(`${marker}*`);
  return names.map((name) => name.slice(marker.length)).sort();
}

/** The bytes of a queued message as received (its Received header included), however they are stored. */
export async function storedBody(relay: TestRelay, client: Redis, queueId: string): Promise<Buffer> {
  const body = await client.getBuffer(createKeys(relay.config.redis.prefix).body(queueId));
  if (!body) throw new Error(`no stored body for ${queueId}`);
  return decodeBody(body);
}

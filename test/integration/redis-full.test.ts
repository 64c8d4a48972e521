// Scenario: a mailstore outage fills Redis up to its high-water mark while mail keeps arriving.
import { describe, expect, it } from 'vitest';
import { queueIdOf, sendRaw, testMessage } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

const ROOM = 4_000_000;
const MESSAGE_SIZE = 200_000;

describe('Redis filling up during a mailstore outage', () => {
  // Bodies as received: the test's padding would compress to almost nothing, and never fill the room.
  const fixture = withRelay({
    stores: ['store1'],
    down: ['store1'],
    config: { limits: { redisMemoryHighWater: 0.9 }, redis: { bodyCompression: 'none' } },
  });
  const { store1: store } = fixture.stores;

  it('refuses new mail with 452 4.3.1 above the high-water mark, loses nothing, and takes mail again once delivery drains it', async () => {
    const { relay, redis } = fixture;
    const used = Number(/used_memory:(\d+)/.exec(await redis.client.info('memory'))![1]);
    await redis.client.config('SET', 'maxmemory', String(used + ROOM));
    const acknowledged: string[] = [];
    const refusals: string[] = [];
    for (let number = 0; number < 60 && refusals.length < 3; number++) {
      const replies = await sendRaw(
        relay.port,
        'sender@remote.test',
        ['alice@example.com'],
        testMessage(`fill-${number}`, MESSAGE_SIZE),
      );
      const last = replies.at(-1)!;
      if (last.startsWith('250')) acknowledged.push(queueIdOf(last));
      else refusals.push(replies.find((reply) => !reply.startsWith('2') && !reply.startsWith('354'))!);
    }
    expect(acknowledged.length).toBeGreaterThan(0);
    expect(refusals.length).toBe(3);
    for (const refusal of refusals) expect(refusal).toMatch(/^452 4\.3\.1 /);

    await store.start(fixture.ports.store1);
    await waitFor(() => store.messages.length >= acknowledged.length, 30_000, 'the queued mail delivered');
    const delivered = store.messages.map((message) => /id ([^\s;]+)/.exec(message.body)?.[1]);
    expect([...delivered].sort()).toEqual([...acknowledged].sort());
    await waitFor(() => relay.events('RedisMemoryNormal').length > 0, 10_000, 'memory below the mark');
    const after = await sendRaw(
      relay.port,
      'sender@remote.test',
      ['alice@example.com'],
      testMessage('after', MESSAGE_SIZE),
    );
    expect(after.at(-1)).toMatch(/^250 2\.0\.0 /);
    await redis.client.config('SET', 'maxmemory', '0');
  });
});

// Scenario: mail for users on two mailstores goes to the right store, once per store, and leaves no keys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';

describe('routing and delivery to two mailstores', () => {
  let redis: TestRedis;
  let relay: TestRelay;
  const store1 = new FakeMailstore();
  const store2 = new FakeMailstore();

  beforeAll(async () => {
    redis = await startTestRedis();
    const config = testConfig(redis.url, { store1: await store1.start(), store2: await store2.start() });
    relay = await startRelay(config);
  });

  afterAll(async () => {
    await relay?.stop();
    await Promise.all([store1.stop(), store2.stop()]);
    await redis?.cleanup();
  });

  it('delivers each user to the mailstore that holds the mailbox', async () => {
    await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'for alice');
    await send(relay.port, 'sender@remote.test', ['bob@example.com'], 'for bob');
    await waitFor(
      () => store1.delivered('alice@example.com').length === 1 && store2.delivered('bob@example.com').length === 1,
    );
    expect(store1.delivered('bob@example.com')).toHaveLength(0);
    expect(store2.delivered('alice@example.com')).toHaveLength(0);
    expect(store1.delivered('alice@example.com')[0]!.from).toBe('sender@remote.test');
  });

  it('makes exactly one delivery per store for a message with recipients on both', async () => {
    const before1 = store1.messages.length;
    const before2 = store2.messages.length;
    const reply = await send(
      relay.port,
      'sender@remote.test',
      ['alice@example.com', 'carol@example.com', 'bob@example.com'],
      'both',
    );
    const queueId = queueIdOf(reply);
    await waitFor(() => store1.messages.length === before1 + 1 && store2.messages.length === before2 + 1);
    const onStore1 = store1.messages.at(-1)!;
    expect(onStore1.to.sort()).toEqual(['alice@example.com', 'carol@example.com']);
    expect(store2.messages.at(-1)!.to).toEqual(['bob@example.com']);
    expect(onStore1.body).toContain(`id ${queueId}`);
    expect(onStore1.body).toMatch(/^Received: from client\.test|^Received: from /);
    // Give a duplicate delivery the chance to show up before counting.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(store1.messages.length).toBe(before1 + 1);
    expect(store2.messages.length).toBe(before2 + 1);
  });

  it('deletes the body and bookkeeping keys once the last delivery job ends', async () => {
    const prefix = relay.config.redis.prefix;
    await waitFor(async () => (await redis.client.keys(`${prefix}:body:*`)).length === 0, 10_000, 'bodies freed');
    expect(await redis.client.keys(`${prefix}:msg:*`)).toEqual([]);
    expect(await redis.client.keys(`${prefix}:pending:*`)).toEqual([]);
    expect(relay.events('Reception')).toHaveLength(3);
    expect(
      relay
        .events('Delivery')
        .map((record) => record.recipient)
        .sort(),
    ).toEqual(
      ['alice@example.com', 'alice@example.com', 'bob@example.com', 'bob@example.com', 'carol@example.com'].sort(),
    );
  });
});

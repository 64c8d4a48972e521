// Scenario: a store's backlog over its limit makes RCPT answer 452 for that store's recipients only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { send, sendRaw } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';

describe('a backlog limit on one mailstore', () => {
  let redis: TestRedis;
  let relay: TestRelay;
  const store1 = new FakeMailstore();
  const store2 = new FakeMailstore();

  beforeAll(async () => {
    redis = await startTestRedis();
    const ports = { store1: await store1.start(), store2: await store2.start() };
    relay = await startRelay(
      testConfig(redis.url, ports, { mailstores: { store1: { backlogLimit: { messages: 2 } } } }),
    );
  });

  afterAll(async () => {
    await relay?.stop();
    await Promise.all([store1.stop(), store2.stop()]);
    await redis?.cleanup();
  });

  it('answers 452 for that store while it is over, keeps taking mail for the other, and recovers', async () => {
    const admin = relay.app.mailstoreAdmin!;
    await admin.hold('store1', { reason: 'storage failure', by: 'ops' });
    for (const subject of ['one', 'two']) {
      expect(await send(relay.port, 'sender@remote.test', ['alice@example.com'], subject)).toMatch(/^250/);
    }
    await waitFor(() => relay.events('BacklogLimitReached').length === 1);
    expect(relay.events('BacklogLimitReached')[0]).toMatchObject({ mailstore: 'store1', limits: ['messages'] });

    // One message for both stores: alice's store is full, bob's takes it.
    const replies = await sendRaw(
      relay.port,
      'sender@remote.test',
      ['alice@example.com', 'bob@example.com'],
      'Subject: both\n\nHello.',
    );
    expect(replies[2]).toMatch(/^452 4\.3\.1 /);
    expect(replies[3]).toMatch(/^250 /);
    expect(replies.at(-1)).toMatch(/^250 2\.0\.0 /);
    await waitFor(() => store2.delivered('bob@example.com').length === 1);
    expect((await admin.status()).find((status) => status.mailstore === 'store1')!.backlog.messages).toBe(2);

    await admin.release('store1', { by: 'ops' });
    await waitFor(() => store1.messages.length === 2);
    await waitFor(() => relay.events('BacklogLimitCleared').length === 1);
    expect(await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'three')).toMatch(/^250/);
    await waitFor(() => store1.messages.length === 3);
  });
});

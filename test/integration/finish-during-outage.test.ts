// Scenario: Redis dies just as a mailstore accepts a message, before Holdfast recorded the delivery.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';

const OUTAGE_MS = 4000;

describe('Redis down as a delivery ends', () => {
  let redis: TestRedis;
  let relay: TestRelay;
  const store = new FakeMailstore();
  let restarted: Promise<void> | undefined;

  beforeAll(async () => {
    redis = await startTestRedis();
    const config = testConfig(
      redis.url,
      { store1: await store.start() },
      { limits: { timeouts: { enqueue: '1s' } }, workers: { lockDuration: '20s' } },
    );
    relay = await startRelay(config);
  });

  afterAll(async () => {
    await restarted;
    await relay?.stop();
    await store.stop();
    await redis?.cleanup();
  });

  it('records the delivery once Redis is back, within the lock, and does not deliver it twice', async () => {
    store.beforeReply = async () => {
      if (restarted) return;
      await redis.kill();
      restarted = sleep(OUTAGE_MS).then(() => redis.restart());
    };
    const queueId = queueIdOf(await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'stalled finish'));
    await waitFor(() => store.messages.length > 0, 10_000, 'the delivery');
    const prefix = relay.config.redis.prefix;
    await waitFor(
      async () => (await redis.client.exists(`${prefix}:msg:${queueId}`).catch(() => 1)) === 0,
      30_000,
      'the finish',
    );
    await sleep(1000);
    expect(store.messages).toHaveLength(1);
  });
});

// Scenario: the node is told to stop while Redis is down and its connections try to reconnect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { send } from '../helpers/smtp-client.js';

describe('stopping while Redis is down', () => {
  let redis: TestRedis;
  let relay: TestRelay;
  const store = new FakeMailstore();

  beforeAll(async () => {
    redis = await startTestRedis();
    relay = await startRelay(testConfig(redis.url, { store1: await store.start() }, { shutdown: { grace: '1s' } }));
  });

  afterAll(async () => {
    await store.stop();
    await redis?.cleanup();
  });

  it('stops, leaving behind the delivery workers that cannot close without Redis', async () => {
    expect(await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'before')).toMatch(/^250/);
    await redis.stop();
    await relay.stop();
    expect(relay.events('Stopped')).toHaveLength(1);
  });
});

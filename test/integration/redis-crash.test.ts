// Scenario: redis-server is killed with SIGKILL after a batch of 250s and restarted on its AOF.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';

describe('redis-server killed after acknowledging mail', () => {
  let redis: TestRedis;
  let relay: TestRelay;
  const store = new FakeMailstore();

  beforeAll(async () => {
    redis = await startTestRedis();
    const port = await store.start();
    await store.stop(); // the store is down: everything acknowledged is still in Redis at the kill
    relay = await startRelay(testConfig(redis.url, { store1: port }));
  });

  afterAll(async () => {
    await relay?.stop();
    await store.stop();
    await redis?.cleanup();
  });

  it('delivers every acknowledged message after Redis restarts from its append-only file', async () => {
    const acknowledged: string[] = [];
    const sender = async (worker: number) => {
      for (let index = 0; index < 8; index++) {
        const reply = await send(relay.port, 'sender@remote.test', ['alice@example.com'], `crash ${worker}-${index}`);
        acknowledged.push(queueIdOf(reply));
      }
    };
    await Promise.all([0, 1, 2, 3, 4].map(sender));
    expect(acknowledged).toHaveLength(40);

    await redis.kill();
    await redis.restart();
    await store.start();

    await waitFor(
      () => new Set(store.messages.map((message) => /id (\S+)/.exec(message.body)?.[1])).size >= 40,
      40_000,
      'deliveries',
    );
    const delivered = new Set(store.messages.map((message) => /id (\S+)/.exec(message.body)?.[1]));
    expect([...acknowledged].filter((queueId) => !delivered.has(queueId))).toEqual([]);
  });
});

// Scenario: redis-server is killed with SIGKILL after a batch of 250s and restarted on its AOF.
import { Queue } from 'bullmq';
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
    // Jobs active at the kill keep their lock until it expires: short locks keep the test short.
    relay = await startRelay(
      testConfig(redis.url, { store1: port }, { workers: { lockDuration: '4s', stalledInterval: '2s' } }),
    );
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

    const delivered = () => new Set(store.messages.map((message) => /id (\S+)/.exec(message.body)?.[1]));
    const missing = () => acknowledged.filter((queueId) => !delivered().has(queueId));
    await waitFor(() => missing().length === 0, 60_000, 'deliveries').catch(async (error: unknown) => {
      const queue = new Queue('store1', { connection: redis.client, prefix: `${relay.config.redis.prefix}:q` });
      const states = await Promise.all(
        missing().map(async (queueId) => `${queueId}: ${await queue.getJobState(queueId)}`),
      );
      await queue.close();
      throw new Error(`${String(error)}; missing jobs: ${states.join(', ')}`);
    });
    expect(missing()).toEqual([]);
  }, 120_000);
});

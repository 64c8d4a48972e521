// Scenario: redis-server is killed with SIGKILL after a batch of 250s and restarted on its AOF.
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

describe('redis-server killed after acknowledging mail', () => {
  // The store is down: everything acknowledged is still in Redis at the kill.
  // Jobs active at the kill keep their lock until it expires: short locks keep the test short.
  const fixture = withRelay({
    stores: ['store1'],
    down: ['store1'],
    config: { workers: { lockDuration: '4s', stalledInterval: '2s' } },
  });
  const { store1: store } = fixture.stores;

  it('delivers every acknowledged message after Redis restarts from its append-only file', async () => {
    const { relay, redis } = fixture;
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
    await store.start(fixture.ports.store1);

    const delivered = () => new Set(store.messages.map((message) => /id (\S+)/.exec(message.body)?.[1]));
    const missing = () => acknowledged.filter((queueId) => !delivered().has(queueId));
    await waitFor(() => missing().length === 0, 60_000, 'deliveries').catch(async (error: unknown) => {
      const queue = new Queue('store1', {
        connection: redis.client,
        prefix: createKeys(relay.config.redis.prefix).bullmqPrefix('store1'),
      });
      const states = await Promise.all(
        missing().map(async (queueId) => `${queueId}: ${await queue.getJobState(queueId)}`),
      );
      await queue.close();
      throw new Error(`${String(error)}; missing jobs: ${states.join(', ')}`);
    });
    expect(missing()).toEqual([]);
  }, 120_000);
});

// Scenario: Redis dies just as a mailstore accepts a message, before Holdfast recorded the delivery.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';
import { waitForQuietStores } from '../helpers/queued.js';

const OUTAGE_MS = 4000;

describe('Redis down as a delivery ends', () => {
  const fixture = withRelay({
    stores: ['store1'],
    config: { limits: { timeouts: { enqueue: '1s' } }, workers: { lockDuration: '20s' } },
  });
  const { store1: store } = fixture.stores;
  let restarted: Promise<void> | undefined;

  // Registered after the fixture's, so it runs first: Redis is back before the relay stops.
  afterAll(async () => {
    await restarted;
  });

  it('records the delivery once Redis is back, within the lock, and does not deliver it twice', async () => {
    const { relay, redis } = fixture;
    store.beforeReply = async () => {
      if (restarted) return;
      await redis.kill();
      restarted = sleep(OUTAGE_MS).then(() => redis.restart());
    };
    const queueId = queueIdOf(await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'stalled finish'));
    await waitFor(() => store.messages.length > 0, 10_000, 'the delivery');
    const copy = createKeys(relay.config.redis.prefix).jobBody('store1', queueId);
    await waitFor(async () => (await redis.client.exists(copy).catch(() => 1)) === 0, 30_000, 'the finish');
    await waitForQuietStores(relay, undefined, 30_000); // the job ended: no second delivery can come
    expect(store.messages).toHaveLength(1);
  });
});

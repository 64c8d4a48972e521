// Scenario (an upgrade with mail queued): messages queued before each job had its own copy of the
// bytes (one shared body, an envelope hash and a pending set) are delivered and freed by this version.
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { DELIVERY_JOB_NAME, type DeliveryJobData } from '../../src/queue/job-data.js';
import { DELIVERY_JOB_OPTIONS } from '../../src/queue/queues.js';
import { newQueueId } from '../../src/queue/queue-id.js';
import { testMessage } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

describe('mail queued by an earlier version', () => {
  const fixture = withRelay({ stores: ['store1', 'store2'] });
  const { store1, store2 } = fixture.stores;

  it('is delivered to each of its stores once, and its shared body freed when the last job ends', async () => {
    const { relay, redis } = fixture;
    const keys = createKeys(relay.config.redis.prefix);
    const queueId = newQueueId();
    const body = Buffer.from(`Received: by mx.test; queued as ${queueId}\r\n${testMessage('from before')}`);
    const receivedAt = Date.now();
    const recipients = { store1: ['alice@example.com'], store2: ['bob@example.com'] };
    // What the earlier version's commit wrote: envelope, shared body, pending set, backlogs, one job a store.
    await redis.client
      .multi()
      .hset(keys.legacyMessage(queueId), {
        sender: 'sender@remote.test',
        receivedAt: String(receivedAt),
        size: String(body.length),
        client: '192.0.2.1',
        mailstores: 'store1,store2',
      })
      .set(keys.legacyBody(queueId), body)
      .sadd(keys.legacyPending(queueId), 'store1', 'store2')
      .zadd(keys.mailstoreBacklog('store1'), receivedAt, queueId)
      .zadd(keys.mailstoreBacklog('store2'), receivedAt, queueId)
      .exec();
    for (const [mailstore, rcpts] of Object.entries(recipients)) {
      const queue = new Queue<DeliveryJobData>(mailstore, { connection: redis.client, prefix: keys.bullmqPrefix });
      const data: DeliveryJobData = {
        queueId,
        mailstore,
        sender: 'sender@remote.test',
        recipients: rcpts,
        failures: [],
        receivedAt,
        attempts: 0,
        size: body.length,
      };
      await queue.add(DELIVERY_JOB_NAME, data, { ...DELIVERY_JOB_OPTIONS, jobId: queueId });
      await queue.close();
    }

    await waitFor(() => store1.delivered('alice@example.com').length === 1);
    await waitFor(() => store2.delivered('bob@example.com').length === 1);
    expect(store1.delivered('alice@example.com')[0]!.body).toContain('Subject: from before');
    const leftovers = [keys.legacyMessage(queueId), keys.legacyBody(queueId), keys.legacyPending(queueId)];
    await waitFor(async () => (await redis.client.exists(...leftovers)) === 0, 5000, 'the shared body freed');
    expect(await redis.client.zcard(keys.mailstoreBacklog('store1'))).toBe(0);
    expect(await redis.client.zcard(keys.mailstoreBacklog('store2'))).toBe(0);
  });
});

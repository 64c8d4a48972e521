// Scenario (a Sentinel switchover): a delivery's finish was written to a primary that was being
// replaced and is lost; the job comes back from the new primary as if never delivered.
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { DELIVERY_JOB_NAME, type DeliveryJobData } from '../../src/queue/job-data.js';
import { DELIVERY_JOB_OPTIONS } from '../../src/queue/queues.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';
import { waitForQuietStores } from '../helpers/queued.js';

describe('a delivery whose finish Redis lost', () => {
  const fixture = withRelay({ stores: ['store1'] });
  const { store1 } = fixture.stores;

  it('is finished again by the node that delivered it, not delivered a second time', async () => {
    const { relay, redis } = fixture;
    const keys = createKeys(relay.config.redis.prefix);
    const admin = relay.app.mailstoreAdmin!;
    await admin.hold('store1', { reason: 'to read the queued job', by: 'test' });
    const queueId = queueIdOf(await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'once'));
    const queue = new Queue<DeliveryJobData>('store1', {
      connection: redis.client,
      prefix: keys.bullmqPrefix('store1'),
    });
    const data = (await queue.getJob(queueId))!.data;
    const copy = (await redis.client.getBuffer(keys.jobBody('store1', queueId)))!;
    await admin.release('store1', { by: 'test' });
    await waitFor(() => store1.delivered('alice@example.com').length === 1);
    await waitFor(async () => (await redis.client.exists(keys.jobBody('store1', queueId))) === 0);

    // What the new primary holds when the finish and BullMQ's completion were lost with the old one.
    await redis.client
      .multi()
      .set(keys.jobBody('store1', queueId), copy)
      .zadd(keys.mailstoreBacklog('store1'), data.receivedAt, queueId)
      .incrby(keys.mailstoreBacklogBytes('store1'), data.size)
      .exec();
    await queue.add(DELIVERY_JOB_NAME, data, { ...DELIVERY_JOB_OPTIONS, jobId: queueId });
    await waitFor(
      async () => (await redis.client.exists(keys.jobBody('store1', queueId))) === 0,
      5000,
      'finished again',
    );
    await waitForQuietStores(relay); // the job ended: no second delivery can come
    expect(store1.delivered('alice@example.com')).toHaveLength(1);
    expect(await redis.client.zcard(keys.mailstoreBacklog('store1'))).toBe(0);
    expect(await redis.client.get(keys.mailstoreBacklogBytes('store1'))).toBe('0');
    await queue.close();
  });
});

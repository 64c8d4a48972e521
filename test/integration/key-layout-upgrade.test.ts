// Scenario (an upgrade with mail queued): a Redis written by the earlier key layout, before store hash
// tags and per-job copies, is upgraded at the first start: its stores keep their state and mail.
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { DELIVERY_JOB_NAME, type DeliveryJobData } from '../../src/queue/job-data.js';
import { DELIVERY_JOB_OPTIONS } from '../../src/queue/queues.js';
import { newQueueId } from '../../src/queue/queue-id.js';
import { startTestRedis } from '../helpers/redis-server.js';
import { startRelay, testConfig } from '../helpers/relay.js';
import { testMessage } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

const PREFIX = 'hfold';
const keys = createKeys(PREFIX);
const queueId = newQueueId();
const body = Buffer.from(`Received: by mx.test; queued as ${queueId}\r\n${testMessage('from before')}`);

/** What the earlier version wrote for one message for two stores, store2 held by an operator. */
async function writeEarlierLayout(redis: Redis): Promise<void> {
  const receivedAt = Date.now();
  const held = { kind: 'held', reason: 'disk replaced', by: 'ops', since: receivedAt - 60_000 };
  await redis
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
    .zadd(`${PREFIX}:store:store1:backlog`, receivedAt, queueId)
    .zadd(`${PREFIX}:store:store2:backlog`, receivedAt, queueId)
    .incrby(`${PREFIX}:store:store1:backlog:bytes`, body.length)
    .incrby(`${PREFIX}:store:store2:backlog:bytes`, body.length)
    .set(`${PREFIX}:store:store2`, JSON.stringify(held))
    .hset(`${PREFIX}:routes`, 'dave@example.com', 'store2')
    .exec();
  const recipients = { store1: ['alice@example.com'], store2: ['bob@example.com'] };
  for (const [mailstore, rcpts] of Object.entries(recipients)) {
    const queue = new Queue<DeliveryJobData>(mailstore, { connection: redis, prefix: `${PREFIX}:q` });
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
}

describe('a Redis written by the earlier key layout', () => {
  const fixture = withRelay({
    stores: ['store1', 'store2'],
    config: { redis: { prefix: PREFIX } },
    beforeRelay: ({ redis }) => writeEarlierLayout(redis.client),
  });
  const { store1, store2 } = fixture.stores;

  it('is upgraded at start: the held store stays held with its mail, the other delivers, nothing is left behind', async () => {
    const { relay, redis } = fixture;
    expect(await redis.client.get(keys.layout)).toBe('2');
    expect(await redis.client.keys(`${PREFIX}:store:*`)).toEqual([]);
    expect(await redis.client.keys(`${PREFIX}:q:*`)).toEqual([]);
    expect(await redis.client.hget(keys.routes, 'dave@example.com')).toBe('store2');

    await waitFor(() => store1.delivered('alice@example.com').length === 1);
    expect(store1.delivered('alice@example.com')[0]!.body).toContain('Subject: from before');
    const admin = relay.app.mailstoreAdmin!;
    const held = (await admin.status()).find((status) => status.mailstore === 'store2')!;
    expect(held).toMatchObject({ state: { kind: 'held', reason: 'disk replaced' }, backlog: { messages: 1 } });
    expect(store2.messages).toHaveLength(0);

    await admin.release('store2', { by: 'ops' });
    await waitFor(() => store2.delivered('bob@example.com').length === 1);
    const leftovers = [keys.legacyMessage(queueId), keys.legacyBody(queueId), keys.legacyPending(queueId)];
    await waitFor(async () => (await redis.client.exists(...leftovers)) === 0, 5000, 'the shared body freed');
    const backlogs = (await admin.status()).map((status) => [status.mailstore, status.backlog.messages]);
    expect(backlogs).toEqual([
      ['store1', 0],
      ['store2', 0],
    ]);
  });
});

describe('upgrading the key layout while the earlier version still delivers', () => {
  let stop: (() => Promise<void>) | undefined;
  afterAll(async () => stop?.());

  it('refuses to start, saying to stop the earlier nodes first', async () => {
    const redis = await startTestRedis();
    const client = new Redis(redis.url, { maxRetriesPerRequest: null });
    const worker = new Worker('store1', () => Promise.resolve(), { connection: client, prefix: `${PREFIX}:q` });
    stop = async () => {
      await worker.close();
      client.disconnect();
      await redis.stop();
    };
    await worker.waitUntilReady();
    await writeEarlierLayout(redis.client);
    const starting = startRelay(testConfig(redis.url, { store1: 1 }, { redis: { prefix: PREFIX } }));
    await expect(starting).rejects.toThrow(
      /delivery worker\(s\) of an earlier Holdfast are connected to mailstore store1/,
    );
    expect(await redis.client.get(keys.layout)).toBeNull();
    expect(await redis.client.exists(`${PREFIX}:store:store2`)).toBe(1);
  });
});

// Scenario: a delivery worker that stops taking jobs is found and replaced; a held or busy store is left alone.
import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { MailQueues } from '../../src/queue/queues.js';
import { Consumers } from '../../src/queue/consumers.js';
import { ConsumerWatchdog } from '../../src/loops/consumer-watchdog.js';
import type { DeliveryJobData } from '../../src/queue/job-data.js';
import { createLogger } from '../../src/observability/logger.js';
import type { LogRecord } from '../helpers/relay.js';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

describe('the worker watchdog', () => {
  let redis: TestRedis;
  let connection: Redis;
  let queues: MailQueues;
  let consumers: Consumers;
  let watchdog: ConsumerWatchdog;
  let logs: LogRecord[];
  let processed: string[];
  /** While set, attempts wait for it: a slow store. */
  let slowStore: Promise<void> | undefined;
  /** The next worker made never runs its fetch loop: as good as wedged. */
  let wedgeNext: boolean;

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(() => redis.cleanup());

  let keys: ReturnType<typeof createKeys>;

  beforeEach(() => {
    keys = createKeys(`wd${Math.random().toString(36).slice(2, 8)}`);
    connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    queues = new MailQueues(connection, keys, ['store1'], () => undefined);
    logs = [];
    processed = [];
    slowStore = undefined;
    wedgeNext = false;
  });

  /** Starts the consumers; the first worker wedged if asked. */
  const startConsumers = (wedged: boolean) => {
    wedgeNext = wedged;
    consumers = new Consumers(['store1'], (mailstore, activity) => {
      const worker = new Worker<DeliveryJobData>(
        mailstore,
        async (job: Job<DeliveryJobData>) => {
          activity.started += 1;
          activity.running += 1;
          try {
            await slowStore;
            processed.push(job.id!);
          } finally {
            activity.running -= 1;
          }
        },
        { connection, prefix: keys.bullmqPrefix(mailstore), autorun: !wedgeNext },
      );
      wedgeNext = false;
      worker.on('error', () => undefined);
      return worker;
    });
    const destination = { write: (line: string) => void logs.push(JSON.parse(line) as LogRecord) };
    watchdog = new ConsumerWatchdog({
      queue: (mailstore) => queues.get(mailstore),
      consumers,
      mailstores: ['store1'],
      intervalMs: 60_000, // the test calls check() itself
      logger: createLogger('debug', destination),
      delayedOverdueMs: 200,
    });
  };

  afterEach(async () => {
    await consumers.close(1000);
    await queues.close();
    connection.disconnect();
  });

  const add = (id: string, delay = 0) =>
    queues.get('store1').add('delivery', { queueId: id } as unknown as DeliveryJobData, { jobId: id, delay });
  const restarts = () => logs.filter((record) => record.event === 'WorkerRestarted');

  it('replaces a worker that stopped taking jobs while mail is due, and the new one delivers it', async () => {
    startConsumers(true);
    const wedged = consumers.worker('store1');
    await add('m1');
    await watchdog.check();
    await watchdog.check();
    expect(restarts()).toHaveLength(1);
    expect(consumers.worker('store1')).not.toBe(wedged);
    await waitFor(() => processed.includes('m1'));
  });

  it('also sees a delayed job that the worker missed', async () => {
    startConsumers(true);
    await add('m2', 50);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await watchdog.check();
    await watchdog.check();
    expect(restarts()).toHaveLength(1);
    await waitFor(() => processed.includes('m2'));
  });

  it('leaves a held store alone although its mail waits', async () => {
    startConsumers(false);
    await queues.get('store1').pause();
    await add('m3');
    const worker = consumers.worker('store1');
    await watchdog.check();
    await watchdog.check();
    expect(restarts()).toHaveLength(0);
    expect(consumers.worker('store1')).toBe(worker);
    expect(processed).toEqual([]);
  });

  it('leaves a worker alone while its attempts run long, with more mail waiting', async () => {
    let finish!: () => void;
    slowStore = new Promise((resolve) => (finish = resolve));
    startConsumers(false);
    await queues.get('store1').setGlobalConcurrency(1);
    await add('m4');
    await add('m5');
    await waitFor(() => consumers.activity('store1').running === 1);
    await watchdog.check();
    await watchdog.check();
    expect(restarts()).toHaveLength(0);
    finish();
    await waitFor(() => processed.length === 2);
  });
});

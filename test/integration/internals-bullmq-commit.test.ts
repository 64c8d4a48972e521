// The contract of src/internals/bullmq-commit.ts with BullMQ, on a real Redis: if BullMQ renames
// or moves the scripts a job insert runs, or stops naming its commands by its version, this fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Job, Queue, Worker, type IRedisTransaction } from 'bullmq';
import { Redis } from 'ioredis';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import {
  JOB_INSERT_SCRIPTS,
  bullmqCommandName,
  jobInsertClient,
  loadJobInsertScripts,
} from '../../src/internals/bullmq-commit.js';

describe("BullMQ's job insert on a connection of its own", () => {
  let redis: TestRedis;
  const connections: Redis[] = [];
  const open = () => {
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    connections.push(connection);
    return connection;
  };

  beforeAll(async () => {
    redis = await startTestRedis();
  });

  afterAll(async () => {
    for (const connection of connections) connection.disconnect();
    await redis?.cleanup();
  });

  it('defines the insert scripts under the names BullMQ itself gives them on its own connections', async () => {
    const bullmqOwn = open();
    const queue = new Queue('names', { connection: bullmqOwn });
    await queue.waitUntilReady();
    for (const script of JOB_INSERT_SCRIPTS) expect(bullmqOwn).toHaveProperty(bullmqCommandName(script));
    const commit = open();
    jobInsertClient(commit);
    for (const script of JOB_INSERT_SCRIPTS) expect(commit).toHaveProperty(bullmqCommandName(script));
    await queue.close();
  });

  it("loads the insert scripts into a server's emptied script cache, so a MULTI's job insert runs again", async () => {
    const commit = open();
    const client = jobInsertClient(commit);
    const queue = new Queue('reloaded', { connection: open() });
    const insert = async (jobId: string) => {
      const transaction = client.multi();
      await new Job(queue, 'deliver', {}, { jobId }, jobId).addJob(transaction);
      return transaction.exec();
    };
    expect((await insert('one'))?.every(([error]) => error === null)).toBe(true);
    await commit.script('FLUSH'); // what a restarted server has
    const failed = await insert('two');
    expect(String(failed?.find(([error]) => error)?.[0])).toContain('NOSCRIPT');
    await loadJobInsertScripts([commit]);
    expect((await insert('three'))?.every(([error]) => error === null)).toBe(true);
    expect(await queue.getJob('three')).toBeDefined();
    await queue.close();
  });

  it('defines nothing else of BullMQ on the connection, so a MULTI there copies only those scripts', () => {
    const commit = open();
    jobInsertClient(commit);
    const defined = Object.keys((commit as unknown as { scriptsSet: object }).scriptsSet);
    expect(defined.sort()).toEqual(JOB_INSERT_SCRIPTS.map(bullmqCommandName).sort());
  });

  it("adds, in a MULTI on that connection, a job BullMQ's worker then processes with its data", async () => {
    const queueConnection = open();
    const queue = new Queue('insert', { connection: queueConnection });
    const client = jobInsertClient(open());
    const transaction = client.multi() as IRedisTransaction & { set(key: string, value: string): unknown };
    transaction.set('beside-the-job', 'yes');
    await new Job(queue, 'deliver', { hello: 'world' }, { jobId: 'one', removeOnComplete: true }).addJob(transaction);
    const results = (await transaction.exec()) as Array<[Error | null, unknown]>;
    expect(results.map(([error]) => error)).toEqual([null, null]);
    expect(await redis.client.get('beside-the-job')).toBe('yes');

    let processed: (data: unknown) => void = () => undefined;
    const data = new Promise<unknown>((resolve) => (processed = resolve));
    const worker = new Worker('insert', (job) => Promise.resolve(processed(job.data)), { connection: open() });
    expect(await data).toEqual({ hello: 'world' });
    await worker.close();
    await queue.close();
  });
});

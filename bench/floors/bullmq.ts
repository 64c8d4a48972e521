// Floor: what BullMQ alone costs per job, on a private redis-server (AOF, appendfsync always).
// 20 concurrent producer loops add jobs and one Worker (concurrency 20) runs them with a processor
// that returns at once; removeOnComplete: true. Variants:
//   - empty job: queue.add('floor', {}, { removeOnComplete: true });
//   - with body (5 KB, 100 KB): as src/queue/enqueue.ts, ONE MULTI holding a SET of the body and the
//     job (new Job(...) then job.addJob(multi)); the processor GETs the body. The body keys are
//     320 reused in turn, so that Redis's memory stays bounded.
// Each variant warms up, then CONFIG RESETSTAT, runs the jobs, and reads INFO commandstats and INFO
// cpu (bench/redis-commands.ts): Redis commands per job (the calls of every cmdstat entry, commands
// inside scripts and MULTI counted one by one, as Redis counts them), their usec, Redis's main
// thread CPU; this process's CPU (producers and worker together) per job; jobs/s.
//
//   node --import tsx bench/floors/bullmq.ts     (BENCH_FLOOR_MESSAGES=N jobs per variant, default 10000)
import { Job, Queue, Worker, type IRedisTransaction } from 'bullmq';
import { Redis, type ChainableCommander } from 'ioredis';
import { RedisCommandCounter, redisCommandsText } from '../redis-commands.js';
import {
  type FloorRow,
  cpuMsSince,
  floorMessages,
  logRow,
  runConcurrently,
  runFloor,
  startRedis,
  warmupMessages,
} from './common.js';

const CONCURRENCY = 20;
const VARIANTS: Array<{ mode: string; size: number | null }> = [
  { mode: 'empty job', size: null },
  { mode: 'MULTI SET body + job; GET', size: 5120 },
  { mode: 'MULTI SET body + job; GET', size: 102400 },
];

/** Job `jN`'s body: one of KEYS keys reused in turn (each SET replaces the body of job N - KEYS), so memory stays bounded. */
const KEYS = 320;
const bodyKey = (jobId = '') => `floor:body:${Number(jobId.slice(1)) % KEYS}`;

async function measureVariant(
  url: string,
  counter: RedisCommandCounter,
  variant: (typeof VARIANTS)[number],
  jobs: number,
): Promise<FloorRow> {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const workerConnection = new Redis(url, { maxRetriesPerRequest: null });
  const name = `floor-${variant.size ?? 'empty'}`;
  const queue = new Queue(name, { connection });
  const body = variant.size === null ? undefined : Buffer.alloc(variant.size, 'x');
  const worker = new Worker(
    name,
    async (job) => {
      if (body) await connection.getBuffer(bodyKey(job.id));
    },
    { connection: workerConnection, concurrency: CONCURRENCY },
  );
  // Settled once the worker completed `target` jobs in all, or as soon as a job fails.
  let completed = 0;
  let waiter: { target: number; resolve: () => void; reject: (error: Error) => void } | undefined;
  worker.on('completed', () => {
    completed++;
    if (waiter && completed >= waiter.target) waiter.resolve();
  });
  worker.on('failed', (_job, error) => waiter?.reject(error));

  let nextId = 0;
  const add = async () => {
    if (!body) return queue.add('floor', {}, { removeOnComplete: true });
    const jobId = `j${nextId++}`;
    const client = await queue.getBackend().client;
    const multi = client.multi() as IRedisTransaction & Pick<ChainableCommander, 'set'>;
    multi.set(bodyKey(jobId), body);
    await new Job(queue, 'floor', {}, { removeOnComplete: true, jobId }, jobId).addJob(multi);
    const results = await multi.exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) throw new Error(`MULTI failed: ${String(failed?.[0])}`);
  };
  /** Adds `count` jobs and waits until the worker completed them all. */
  const pass = async (count: number) => {
    const done = new Promise<void>((resolve, reject) => (waiter = { target: completed + count, resolve, reject }));
    await Promise.all([runConcurrently(count, CONCURRENCY, add), done]);
  };

  try {
    await pass(warmupMessages(jobs));
    await counter.start();
    const cpu = process.cpuUsage();
    const start = performance.now();
    await pass(jobs);
    const wallMs = performance.now() - start;
    const cpuMs = cpuMsSince(cpu);
    const redis = await counter.stop(jobs);
    const label = variant.size === null ? variant.mode : `${variant.size} B ${variant.mode}`;
    process.stderr.write(`bullmq ${label}: ${redisCommandsText(redis)}\n`);
    return {
      floor: 'bullmq',
      size: variant.size,
      mode: variant.mode,
      messages: jobs,
      perSecond: (jobs * 1000) / wallMs,
      nodeCpuMsPerMessage: cpuMs / jobs,
      redisCommandsPerMessage: redis.commandsPerMessage,
      redisUsecPerMessage: redis.usecPerMessage,
      redisCpuUsPerMessage: redis.mainThreadCpuUsPerMessage,
    };
  } finally {
    await worker.close();
    await queue.close();
    workerConnection.disconnect();
    connection.disconnect();
  }
}

await runFloor('bullmq', async (processes, dir) => {
  const url = await startRedis(processes, dir);
  const counter = new RedisCommandCounter(url);
  const jobs = floorMessages(10000);
  const rows: FloorRow[] = [];
  try {
    for (const variant of VARIANTS) {
      const row = await measureVariant(url, counter, variant, jobs);
      logRow(row);
      rows.push(row);
    }
  } finally {
    counter.close();
  }
  return rows;
});

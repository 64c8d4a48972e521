// Floor: what ioredis alone costs to write a message body durably, on a private redis-server (AOF,
// appendfsync always). 20 concurrent loops on one connection each send one MULTI holding a SET of
// a 5 KB or 100 KB value, then wait for its EXEC. The keys are a set of 320 reused in turn (each
// SET replaces a value written 320 MULTIs before), so Redis's memory stays bounded.
// After a warm-up: CONFIG RESETSTAT, the MULTIs, INFO commandstats and INFO cpu
// (bench/redis-commands.ts). Figures per MULTI: this process's CPU, Redis commands (MULTI, SET
// and EXEC each count) and their usec, Redis's main thread CPU; MULTIs/s.
//
//   node --import tsx bench/floors/ioredis.ts     (BENCH_FLOOR_MESSAGES=N MULTIs per size, default 5000)
import { Redis } from 'ioredis';
import { RedisCommandCounter } from '../redis-commands.js';
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
const SIZES = [5120, 102400];
const KEYS = 320;

await runFloor('ioredis', async (processes, dir) => {
  const url = await startRedis(processes, dir);
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const counter = new RedisCommandCounter(url);
  const count = floorMessages(5000);
  const rows: FloorRow[] = [];
  try {
    for (const size of SIZES) {
      const value = Buffer.alloc(size, 'x');
      const write = async (index: number) => {
        const results = await redis
          .multi()
          .set(`floor:value:${index % KEYS}`, value)
          .exec();
        if (!results || results.some(([error]) => error)) throw new Error('MULTI failed');
      };
      await runConcurrently(warmupMessages(count), CONCURRENCY, write);
      await counter.start();
      const cpu = process.cpuUsage();
      const start = performance.now();
      await runConcurrently(count, CONCURRENCY, write);
      const wallMs = performance.now() - start;
      const cpuMs = cpuMsSince(cpu);
      const figures = await counter.stop(count);
      const row: FloorRow = {
        floor: 'ioredis',
        size,
        mode: `${CONCURRENCY} loops, MULTI SET EXEC`,
        messages: count,
        perSecond: (count * 1000) / wallMs,
        nodeCpuMsPerMessage: cpuMs / count,
        redisCommandsPerMessage: figures.commandsPerMessage,
        redisUsecPerMessage: figures.usecPerMessage,
        redisCpuUsPerMessage: figures.mainThreadCpuUsPerMessage,
      };
      logRow(row);
      rows.push(row);
    }
  } finally {
    counter.close();
    redis.disconnect();
  }
  return rows;
});

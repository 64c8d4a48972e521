// Floor: what ioredis alone costs to write a message body durably, on a private redis-server (AOF,
// appendfsync always). 20 concurrent loops on one connection each send one MULTI holding a SET of
// a 5 KB or 100 KB value, then wait for its EXEC; then one loop alone, whose median round trip is
// the least a durable commit adds to an SMTP reply (the 1-session accept latency's floor). The keys are a set of 320 reused in turn (each
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

const CELLS = [
  { size: 5120, loops: 20 },
  { size: 102400, loops: 20 },
  { size: 5120, loops: 1 },
];
const KEYS = 320;

await runFloor('ioredis', async (processes, dir) => {
  const url = await startRedis(processes, dir);
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const counter = new RedisCommandCounter(url);
  const count = floorMessages(5000);
  const rows: FloorRow[] = [];
  try {
    for (const { size, loops } of CELLS) {
      const value = Buffer.alloc(size, 'x');
      const times: number[] = [];
      const write = async (index: number) => {
        const started = performance.now();
        const results = await redis
          .multi()
          .set(`floor:value:${index % KEYS}`, value)
          .exec();
        times.push(performance.now() - started);
        if (!results || results.some(([error]) => error)) throw new Error('MULTI failed');
      };
      await runConcurrently(warmupMessages(count), loops, write);
      times.length = 0;
      await counter.start();
      const cpu = process.cpuUsage();
      const start = performance.now();
      await runConcurrently(count, loops, write);
      const wallMs = performance.now() - start;
      const cpuMs = cpuMsSince(cpu);
      const figures = await counter.stop(count);
      const row: FloorRow = {
        floor: 'ioredis',
        size,
        mode: `${loops} loop${loops === 1 ? '' : 's'}, MULTI SET EXEC`,
        messages: count,
        perSecond: (count * 1000) / wallMs,
        nodeCpuMsPerMessage: cpuMs / count,
        redisCommandsPerMessage: figures.commandsPerMessage,
        redisUsecPerMessage: figures.usecPerMessage,
        redisCpuUsPerMessage: figures.mainThreadCpuUsPerMessage,
        p50Ms: times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!,
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

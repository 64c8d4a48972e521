// Shared by the library floors (bench/floors/*.ts): the message counts, the CPU clock, a private
// redis-server, the FLOOR line each program prints last, and the clean-up every program runs.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { StartedProcesses, freePort, makeTempDir, numberSetting, removeTempDir, runBenchmark } from '../lib.js';

/** One measured cell; the per-message figures are per message, job or MULTI. */
export interface FloorRow {
  floor: string;
  /** Message (or value) size in bytes; null when there is none. */
  size: number | null;
  /** Sessions, connection mode, variant. */
  mode: string;
  messages: number;
  perSecond: number;
  nodeCpuMsPerMessage: number;
  redisCommandsPerMessage?: number;
  redisUsecPerMessage?: number;
  redisCpuUsPerMessage?: number;
  peakRssMb?: number;
  /** Median time of one operation (a MULTI's round trip), where the floor measures it. */
  p50Ms?: number;
}

/** How a run.ts reads a program's figures: its last line is `FLOOR [rows]`. */
export const FLOOR_PREFIX = 'FLOOR ';

/** Messages measured per cell: BENCH_FLOOR_MESSAGES, or `fallback`. */
export function floorMessages(fallback: number): number {
  return Math.max(1, Math.round(numberSetting('BENCH_FLOOR_MESSAGES', fallback)));
}

/**
 * Messages sent first and not measured: BENCH_FLOOR_WARMUP (default 1000), at most as many as are
 * measured. Until V8 has optimized the hot code, its compiler threads count in this process's CPU.
 */
export function warmupMessages(messages: number): number {
  return Math.min(Math.round(numberSetting('BENCH_FLOOR_WARMUP', 1000)), messages);
}

/** This process's CPU (user + system) since `start` (a process.cpuUsage() value), in ms. */
export function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** Runs `count` tasks, `concurrency` at a time: each loop takes the next index until none is left. */
export async function runConcurrently(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const loop = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
}

/** The highest resident set size of this process, sampled every 20 ms until stop(), in MB. */
export function sampleRss(): { stop: () => number } {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage.rss()) / 2 ** 20;
    },
  };
}

/** Writes one line about `row` to stderr, as the cells go. */
export function logRow(row: FloorRow): void {
  const redis =
    row.redisCommandsPerMessage === undefined
      ? ''
      : `, Redis ${row.redisCommandsPerMessage.toFixed(1)} commands ${row.redisUsecPerMessage?.toFixed(0)} µs`;
  process.stderr.write(
    `${row.floor} ${row.size === null ? '' : `${row.size} B `}${row.mode}: ${row.perSecond.toFixed(0)}/s, ` +
      `${row.nodeCpuMsPerMessage.toFixed(3)} ms node CPU${redis}\n`,
  );
}

/** A redis-server of its own, durable as Holdfast's embedded one: AOF with fsync on every write, no RDB. */
export async function startRedis(processes: StartedProcesses, dir: string): Promise<string> {
  const port = await freePort();
  const child = processes.add(
    spawn(
      'redis-server',
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
        ...['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
      ],
      { detached: true, stdio: ['ignore', 'ignore', 'inherit'] },
    ),
  );
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => undefined); // not listening yet: connect() rejects, and that is enough
    try {
      await probe.connect();
      await probe.ping();
      return url;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(50);
    } finally {
      probe.disconnect();
    }
  }
}

/**
 * Runs a floor: `main` gets a temp dir and the list of the processes it starts, and returns its
 * rows, printed as the last line. Whatever happens, every process is then stopped by PID and the
 * temp dir removed; then the program exits (a failed one may leave connections open).
 */
export async function runFloor(
  name: string,
  main: (processes: StartedProcesses, dir: string) => Promise<FloorRow[]>,
): Promise<void> {
  const processes = new StartedProcesses(name);
  const dir = makeTempDir(`holdfast-floor-${name}-`);
  await runBenchmark(
    name,
    async () => {
      const rows = await main(processes, dir);
      process.stdout.write(`${FLOOR_PREFIX}${JSON.stringify(rows)}\n`);
    },
    {
      onFailure: () => undefined,
      cleanUp: async () => {
        await processes.stopAll();
        removeTempDir(dir, name);
      },
    },
  );
  process.exit();
}

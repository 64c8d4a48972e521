// The library floors: what smtp-server, BullMQ, ioredis and nodemailer each cost alone on this
// machine, doing only their part of an MX relay's work, at 5 KB and 100 KB messages.
//
//   npm run bench:floors          (tsx bench/floors/run.ts)
//
// Runs bench/floors/{smtp-server,bullmq,ioredis,nodemailer}.ts one after the other, each as its own
// `node --import tsx` child process (none warms the next), passes their stderr through, reads the
// `FLOOR [rows]` line each prints last on stdout, and prints one table. Per-message figures are per
// message, job or MULTI; node CPU is that of the process doing the library's work (the load
// generator, the sink and Redis are other processes); Redis commands and µs come from INFO
// commandstats, Redis CPU from its main thread's used_cpu_*.
//
// Settings (environment): BENCH_FLOOR_MESSAGES=N (messages per cell in every program; the defaults
// give each cell a few seconds) BENCH_FLOOR_WARMUP=1000 (messages first sent and not measured, in
// each cell; at most N) BENCH_FLOORS=smtp-server,bullmq,ioredis,nodemailer (which to run)
// SMTP_SOURCE=/usr/sbin/smtp-source. The figures skew when other work runs on the machine, and
// small counts (a smoke test) show costs a longer run does not: V8 still compiling, for one.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fixed, repoRoot } from '../lib.js';
import { FLOOR_PREFIX, type FloorRow } from './common.js';

const ALL = ['smtp-server', 'bullmq', 'ioredis', 'nodemailer'];
const floors = (process.env.BENCH_FLOORS ?? ALL.join(',')).split(',').map((name) => name.trim());
for (const name of floors) if (!ALL.includes(name)) throw new Error(`BENCH_FLOORS: unknown floor ${name}`);

let current: ChildProcess | undefined;
let interrupted = false;
// A signal goes on to the running floor, which stops its own children; then no other floor starts.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    interrupted = true;
    current?.kill(signal);
  });
}

/** Runs one floor program; its rows, or an error when it failed or printed no FLOOR line. */
async function runOne(name: string): Promise<FloorRow[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'bench/floors', `${name}.ts`)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  current = child;
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  current = undefined;
  const lines = output.trim().split('\n');
  const last = lines.pop() ?? '';
  if (lines.length > 0) process.stderr.write(`${lines.join('\n')}\n`);
  if (code !== 0 || !last.startsWith(FLOOR_PREFIX)) throw new Error(`${name} exited with ${code}`);
  return JSON.parse(last.slice(FLOOR_PREFIX.length)) as FloorRow[];
}

function table(rows: FloorRow[]): string {
  const optional = (value: number | undefined, digits: number) => (value === undefined ? '-' : fixed(value, digits));
  const header = [
    'floor',
    'size',
    'sessions/mode',
    'msgs/s',
    'node CPU ms/msg',
    'Redis cmds/msg',
    'Redis cmd µs/msg',
    'Redis CPU µs/msg',
    'peak RSS MB',
    'p50 ms',
  ];
  const cells = rows.map((row) => [
    row.floor,
    row.size === null ? '-' : `${row.size / 1024} KB`,
    row.mode,
    fixed(row.perSecond, 0),
    fixed(row.nodeCpuMsPerMessage, 3),
    optional(row.redisCommandsPerMessage, 1),
    optional(row.redisUsecPerMessage, 0),
    optional(row.redisCpuUsPerMessage, 0),
    optional(row.peakRssMb, 0),
    optional(row.p50Ms, 3),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((cell) => cell[column]!.length)));
  // Text columns to the left, figures to the right.
  const line = (cell: string[]) =>
    cell.map((text, column) => (column < 3 ? text.padEnd(widths[column]!) : text.padStart(widths[column]!))).join('  ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...cells.map(line)].join('\n');
}

process.stderr.write(`floors: ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(2)} at start\n`);
const rows: FloorRow[] = [];
const failed: string[] = [];
for (const name of floors) {
  if (interrupted) break;
  process.stderr.write(`floors: ${name}\n`);
  try {
    rows.push(...(await runOne(name)));
  } catch (error) {
    failed.push(name);
    process.stderr.write(`floors: ${error instanceof Error ? error.message : String(error)}\n`);
  }
}
process.stdout.write(`\n${table(rows)}\n`);
if (failed.length > 0 || interrupted) {
  process.stdout.write(`\nnot measured: ${[...failed, ...(interrupted ? ['(interrupted)'] : [])].join(', ')}\n`);
  process.exitCode = interrupted ? 130 : 1;
}

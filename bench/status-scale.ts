// Measures what a status call costs with a large held backlog, and the Redis memory per queued message.
//
//   node --import tsx bench/status-scale.ts [--messages 1000000] [--producers 128] [--calls 1000] [--size 5120]
//   npm run bench:scale -- --messages 100000
//
// It starts a managed redis-server (src/redis/embedded.ts, on a unix socket, with the durable settings
// of production: appendonly yes, appendfsync always, noeviction; but maxmemory 0, where the embedded
// default of 4 GB is too small for 1,000,000 such messages) with its data in a temp dir, and holds
// store1 with MailstoreAdmin.hold (its BullMQ queue paused, as in production). Then it loads MESSAGES
// messages for store1 with enqueueMessage (src/queue/enqueue.ts, the transaction SMTP reception
// commits: body, message hash, pending set, backlog entry and byte counter, BullMQ job), PRODUCERS at
// a time on one intake connection, bypassing SMTP. Each body is what reception stores for
// `smtp-source -l SIZE`: a Received: header, five headers and SIZE bytes of text. Every 10 s it prints
// the count, the rate, one status call's latency and Redis used_memory. Then, once no AOF rewrite
// runs, it checks that status shows them all, and makes CALLS calls one after another of
// MailstoreAdmin.status(), MailstoreAdmin.backlog(), MailstoreControls.counts() and Backlogs.read(),
// each timed (p50, p99, max) with the CPU that redis-server and this process used over the series
// (the status series also runs before the load, on the empty store). Last, Redis used_memory before
// and after the load, per message against the message size, and MEMORY USAGE of each kind of key.
// At the end it stops redis-server and removes the temp dir (BENCH_KEEP=1 keeps it).
// Environment: BENCH_JSON=FILE (also write the figures as JSON), BENCH_QUIET_WAIT=120 (before each
// series, wait up to this many seconds for the machine to be below 25% of one core busy).
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { MailstoreAdmin } from '../src/admin/mailstores.js';
import { validateConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { createLogger } from '../src/observability/logger.js';
import { createKeys, type Keys } from '../src/queue/keys.js';
import { MailstoreControls } from '../src/repositories/mailstore-controls.js';
import { MailQueues } from '../src/queue/queues.js';
import { StoreOverridesRepository } from '../src/repositories/store-overrides.js';
import { createRedis } from '../src/redis/connections.js';
import { findDurabilityProblems } from '../src/redis/durability.js';
import { EmbeddedRedis } from '../src/redis/embedded.js';
import { latencies, latencyText, seriesLine, timeCalls, type Latencies, type Series } from './call-timing.js';
import {
  fixed,
  machineBusyMs,
  makeTempDir,
  numberSetting,
  procStatusKb,
  removeTempDir,
  repoRoot,
  runBenchmark,
} from './lib.js';
import {
  info,
  keyProfile,
  memoryFigures,
  waitForAofRewrite,
  type KeyKind,
  type MemoryFigures,
} from './redis-memory.js';
import { loadBacklog, MAILSTORE, messagePayload, type LoadFigures, type PayloadKind } from './scale-load.js';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    producers: { type: 'string', default: '128' },
    calls: { type: 'string', default: '1000' },
    size: { type: 'string', default: '5120' },
    payload: { type: 'string', default: 'random' },
  },
  strict: true,
});

function positiveInteger(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be an integer >= 1`);
  return value;
}

function payloadKind(text: string): PayloadKind {
  if (text !== 'random' && text !== 'text') throw new Error('--payload must be random or text');
  return text;
}

const settings = {
  messages: positiveInteger('messages', args.messages),
  producers: positiveInteger('producers', args.producers),
  calls: positiveInteger('calls', args.calls),
  size: positiveInteger('size', args.size),
  payload: payloadKind(args.payload),
  /** Messages whose own keys are measured with MEMORY USAGE. */
  sample: 200,
  quietWaitS: numberSetting('BENCH_QUIET_WAIT', 120),
};

const LOG = 'scale';
let tempDir: string | undefined;
let redisServer: EmbeddedRedis | undefined;
const connections: Redis[] = [];
const queueSets: MailQueues[] = [];

/** Closes the queues and connections, stops redis-server, removes the temp dir. */
async function cleanUp(): Promise<void> {
  await Promise.all(queueSets.map((queues) => queues.close().catch(() => undefined)));
  for (const connection of connections) connection.disconnect();
  await redisServer?.stop();
  if (tempDir) removeTempDir(tempDir, LOG);
}

// ---------------------------------------------------------------- setting up

interface Bench {
  redisPid: number;
  redisDir: string;
  config: Config;
  keys: Keys;
  /** A plain connection without a command timeout, for INFO and MEMORY. */
  probe: Redis;
  controls: MailstoreControls;
  admin: MailstoreAdmin;
}

/** The bench's own config: one store, the Redis just started. */
function benchConfig(url: string, baseDirectory: string): Config {
  const loaded = validateConfig(
    {
      domains: { 'example.com': { mailstore: MAILSTORE, rejectUnknownUsers: false } },
      mailstores: { [MAILSTORE]: { endpoints: ['127.0.0.1:24'] } },
      redis: { url },
    },
    { baseDirectory, environment: {} },
  );
  if (!loaded.ok) throw new Error(`bench config invalid: ${loaded.problems.join('; ')}`);
  return loaded.config;
}

function track(connection: Redis): Redis {
  connections.push(connection);
  return connection;
}

/** Starts redis-server in a temp dir and wires the admin side as App.startPolicy does. */
async function setUp(): Promise<Bench> {
  tempDir = makeTempDir('holdfast-scale-');
  const redisDir = join(tempDir, 'redis');
  redisServer = new EmbeddedRedis({ dir: redisDir, maxmemory: 0, supervise: false });
  await redisServer.start();
  const url = redisServer.location.url;
  const config = benchConfig(url, tempDir);
  const timeout = config.limits.timeouts.enqueue;
  const control = track(createRedis({ url }, 'control', timeout));
  const problems = await findDurabilityProblems(control);
  if (problems.length > 0) throw new Error(`redis-server is not durable: ${problems.join('; ')}`);
  const keys = createKeys(config.redis.prefix);
  const mailstores = Object.keys(config.mailstores);
  const controlQueues = new MailQueues(control, keys, mailstores, () => undefined);
  queueSets.push(controlQueues);
  const controls = new MailstoreControls(control, keys, controlQueues, timeout);
  const overrides = new StoreOverridesRepository(control, keys, mailstores, timeout);
  const logger = createLogger('warn', { write: (line: string) => void process.stderr.write(line) });
  const admin = new MailstoreAdmin(config, controls, logger, Date.now, overrides);
  const probe = track(new Redis({ path: redisServer.socketPath }));
  process.stderr.write(`${LOG}: redis-server pid ${redisServer.pid}, data in ${redisDir}\n`);
  return { redisPid: redisServer.pid!, redisDir, config, keys, probe, controls, admin };
}

// ---------------------------------------------------------------- loading

interface Loaded {
  load: LoadFigures & { perSecond: number };
  /** status() once a second while the load ran, each just after a PING (Redis's own delay). */
  statusDuringLoad: Latencies;
  pingDuringLoad: Latencies;
  machineBusyDuringLoadPercent: number;
  /** Forks (AOF rewrites) during the load, and the longest seen (INFO stats latest_fork_usec, read once a second). */
  forks: number;
  longestForkMs: number;
  /** AOF rewrites Redis did by itself (auto-aof-rewrite-percentage) during the load. */
  rewrites: number;
  /** How long the last one still ran after the load. */
  rewriteWaitMs: number;
}

/** PING then status() once a second until `loading` says no more, and the forks Redis made meanwhile. */
async function watchDuringLoad(bench: Bench, loading: () => boolean) {
  const status: number[] = [];
  const ping: number[] = [];
  let longestForkUs = 0;
  const forksBefore = (await info(bench.probe, 'stats')).get('total_forks') ?? 0;
  let forks = 0;
  const timed = async (samples: number[], call: () => Promise<unknown>) => {
    const started = performance.now();
    await call();
    samples.push(performance.now() - started);
  };
  while (loading()) {
    await timed(ping, () => bench.probe.ping());
    await timed(status, () => bench.admin.status());
    const stats = await info(bench.probe, 'stats');
    forks = (stats.get('total_forks') ?? 0) - forksBefore;
    if (forks > 0) longestForkUs = Math.max(longestForkUs, stats.get('latest_fork_usec') ?? 0);
    await sleep(1000);
  }
  return { status: latencies(status), ping: latencies(ping), forks, longestForkMs: longestForkUs / 1000 };
}

/** Loads the backlog through a fail-fast intake connection with its own queues, as App.startListener. */
async function load(bench: Bench): Promise<Loaded> {
  const { config, keys, probe } = bench;
  const aofRewrites = async () => (await info(probe, 'persistence')).get('aof_rewrites') ?? Number.NaN;
  const rewritesBefore = await aofRewrites();
  const timeoutMs = config.limits.timeouts.enqueue;
  const intake = track(createRedis({ url: redisServer!.location.url }, 'intake', timeoutMs));
  if (intake.status !== 'ready') await once(intake, 'ready');
  const queues = new MailQueues(intake, keys, Object.keys(config.mailstores), () => undefined);
  queueSets.push(queues);
  process.stderr.write(`${LOG}: loading ${settings.messages} messages, ${settings.producers} producers\n`);
  let loading = true;
  const watching = watchDuringLoad(bench, () => loading);
  const machine0 = machineBusyMs();
  const figures = await loadBacklog({
    queues,
    count: settings.messages,
    producers: settings.producers,
    payload: messagePayload(settings.size, settings.payload),
    timeoutMs,
    redisPid: bench.redisPid,
    progress: async () => {
      const used = (await memoryFigures(probe)).usedMemory;
      return `redis used_memory ${fixed(used / 2 ** 20, 0)} MiB`;
    },
    log: (line) => process.stderr.write(`${LOG}: ${line}\n`),
  }).finally(() => (loading = false));
  const watched = await watching;
  const rewriteWaitMs = await waitForAofRewrite(probe, 600_000);
  return {
    load: { ...figures, perSecond: figures.committed / (figures.wallMs / 1000) },
    statusDuringLoad: watched.status,
    pingDuringLoad: watched.ping,
    machineBusyDuringLoadPercent: ((machineBusyMs() - machine0) / figures.wallMs) * 100,
    forks: watched.forks,
    longestForkMs: watched.longestForkMs,
    rewrites: (await aofRewrites()) - rewritesBefore,
    rewriteWaitMs,
  };
}

/** Fails unless status shows the store held with every message loaded, waiting, and their bytes. */
async function checkStatus(admin: MailstoreAdmin, bytes: number): Promise<void> {
  const [status] = await admin.status();
  const { messages } = settings;
  const right =
    status?.state.kind === 'held' &&
    status.counts.waiting === messages &&
    status.backlog.messages === messages &&
    status.backlog.bytes === bytes;
  if (!right) throw new Error(`unexpected status after the load: ${JSON.stringify(status)}`);
}

// ---------------------------------------------------------------- main

interface ScaleFigures {
  machine: { nproc: number; cpu: string; memoryGiB: number };
  commit: string;
  settings: typeof settings;
  loaded: Loaded;
  series: Series[];
  memory: { before: MemoryFigures; after: MemoryFigures; bytesPerMessage: number; messageSize: number; ratio: number };
  aofBytes: number;
  kinds: KeyKind[];
  redisServer: { vmHwmKb: number; vmRssKb: number };
  bench: { vmHwmKb: number };
}

async function main(): Promise<void> {
  const commit = describeCommit(); // now: a long run may outlive HEAD
  const bench = await setUp();
  const { admin, controls, redisPid, probe } = bench;
  await admin.hold(MAILSTORE, { reason: 'bench: status at scale', by: 'bench' });
  const series: Series[] = [];
  const time = async (name: string, call: () => Promise<unknown>) => {
    const options = { name, calls: settings.calls, serverPid: redisPid, quietWaitS: settings.quietWaitS };
    series.push(await timeCalls({ ...options, logPrefix: LOG }, call));
  };
  await time('status(), empty store', () => admin.status());
  const before = await memoryFigures(probe);

  const loaded = await load(bench);
  await checkStatus(admin, loaded.load.bytes);
  await time('status()', () => admin.status());
  await time('backlog(store1)', () => admin.backlog(MAILSTORE));
  await time('controls.counts(store1)', () => controls.counts(MAILSTORE));
  await time('backlogs.read(store1)', () => controls.backlogs.read(MAILSTORE));

  const after = await memoryFigures(probe);
  const sample = await probe.zrandmember(bench.keys.mailstoreBacklog(MAILSTORE), settings.sample);
  const figures: ScaleFigures = {
    machine: { nproc: cpus().length, cpu: cpus()[0]?.model ?? '?', memoryGiB: totalmem() / 2 ** 30 },
    commit,
    settings,
    loaded,
    series,
    memory: { before, after, ...perMessage(before, after, loaded.load.bytes) },
    aofBytes: directoryBytes(bench.redisDir),
    kinds: await keyProfile(probe, bench.keys, MAILSTORE, sample, settings.messages),
    redisServer: { vmHwmKb: procStatusKb(redisPid, 'VmHWM'), vmRssKb: procStatusKb(redisPid, 'VmRSS') },
    bench: { vmHwmKb: procStatusKb(process.pid, 'VmHWM') },
  };
  process.stdout.write(report(figures));
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, `${JSON.stringify(figures, null, 2)}\n`);
}

function perMessage(before: MemoryFigures, after: MemoryFigures, bytes: number) {
  const bytesPerMessage = (after.usedMemory - before.usedMemory) / settings.messages;
  const messageSize = bytes / settings.messages;
  return { bytesPerMessage, messageSize, ratio: bytesPerMessage / messageSize };
}

/** Total size of the files under `dir` (the AOF), in bytes. */
function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? directoryBytes(path) : statSync(path).size;
  }
  return total;
}

/** "abc1234" or "abc1234 + uncommitted src/ changes": the code measured (run from source by tsx). */
function describeCommit(): string {
  const git = (...gitArgs: string[]) => execFileSync('git', gitArgs, { cwd: repoRoot, encoding: 'utf8' }).trim();
  try {
    const dirty = git('status', '--porcelain', '--', 'src') !== '';
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' + uncommitted src/ changes' : ''}`;
  } catch {
    return '?';
  }
}

// ---------------------------------------------------------------- report

function report(figures: ScaleFigures): string {
  const { load, rewrites, rewriteWaitMs, statusDuringLoad, pingDuringLoad } = figures.loaded;
  const { memory, machine } = figures;
  const mib = (bytes: number) => `${fixed(bytes / 2 ** 20, 1)} MiB`;
  const n = settings.messages;
  const perMessageCpu = (ms: number) => `${fixed(ms / n, 3)} ms`;
  const table = (memory.after.mainTableBuckets - memory.before.mainTableBuckets) / n;
  const sum = figures.kinds.reduce((total, kind) => total + kind.bytesPerMessage, table);
  const row = (name: string, bytes: number, note: string) =>
    `  ${name.padEnd(28)} ${fixed(bytes, 1).padStart(8)} B  ${note}`;
  return [
    '',
    `Status at scale: ${machine.nproc} x ${machine.cpu}, ${fixed(machine.memoryGiB, 0)} GiB; commit ${figures.commit}; ` +
      `${n} messages of ${fixed(memory.messageSize, 0)} B stored (${settings.payload} payload of ${settings.size} B) ` +
      'for a held store',
    '',
    `Load: ${load.committed} committed in ${fixed(load.wallMs / 1000, 1)} s = ${fixed(load.perSecond, 0)} msgs/s ` +
      `(${settings.producers} producers; ${load.failed} failed commits, retried); CPU per message: redis ` +
      `${perMessageCpu(load.redisCpuMs)}, bench ${perMessageCpu(load.benchCpuMs)}; ${rewrites} AOF rewrites meanwhile` +
      (rewriteWaitMs > 1000 ? `, the last ending ${fixed(rewriteWaitMs / 1000, 1)} s after the load` : ''),
    ...load.firstErrors.map((error) => `  failed commit: ${error}`),
    `  once a second during the load (${statusDuringLoad.calls} times; machine ` +
      `${fixed(figures.loaded.machineBusyDuringLoadPercent, 0)}% busy): status() ${latencyText(statusDuringLoad)}; ` +
      `PING just before it ${latencyText(pingDuringLoad)}`,
    `  ${figures.loaded.forks} forks meanwhile, the longest blocking Redis ${fixed(figures.loaded.longestForkMs, 0)} ms`,
    '',
    `Latency, ${settings.calls} calls one after another:`,
    ...figures.series.map((series) => seriesLine(series, 'redis')),
    '',
    `Redis used_memory: ${mib(memory.before.usedMemory)} before, ${mib(memory.after.usedMemory)} after ` +
      `(used_memory_rss ${mib(memory.after.usedMemoryRss)}; ${memory.after.keys} keys); AOF on disk ${mib(figures.aofBytes)}`,
    `Per queued message: ${fixed(memory.bytesPerMessage, 0)} B for ${fixed(memory.messageSize, 0)} B of message ` +
      `= ${fixed(memory.ratio, 3)}x (${fixed(memory.bytesPerMessage / settings.size, 3)}x the ${settings.size} B ` +
      `payload; target <= 1.2x)`,
    `MEMORY USAGE per message (own keys: mean of ${settings.sample} messages; shared keys: usage / ${n}):`,
    ...figures.kinds.map((kind) => row(kind.kind, kind.bytesPerMessage, `(${kind.encoding})`)),
    row('main key table', table, '(its bucket array, 8 B a slot)'),
    row('sum', sum, `of ${fixed(memory.bytesPerMessage, 0)} B measured`),
    '',
    `redis-server VmHWM ${mib(figures.redisServer.vmHwmKb * 1024)}, VmRSS ${mib(figures.redisServer.vmRssKb * 1024)}; ` +
      `bench process VmHWM ${mib(figures.bench.vmHwmKb * 1024)}`,
    '',
  ].join('\n');
}

await runBenchmark(LOG, main, { onFailure: () => undefined, cleanUp });

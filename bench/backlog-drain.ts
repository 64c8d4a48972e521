// Measures the drain of a large held backlog (issue 6, item 3): Redis memory per queued message,
// status latency with the backlog, the drain rate after release, and another store's latency meanwhile.
//
//   npm run bench:drain                          # 1,000,000 messages of 5 KB
//   BENCH_DRAIN_MESSAGES=100000 npm run bench:drain
//
// It makes a temp dir and starts, as child processes, two counting LMTP sinks (bench/lmtp-sink.ts)
// and `node bin/holdfast.js start -c CONFIG`: listener and admin API on free ports on 127.0.0.1, the
// embedded Redis in the temp dir (appendonly yes, appendfsync always: production's settings; its
// maxmemory raised to 16gb, as 1,000,000 such messages need more than the default 4gb), log level info
// to a file, two mailstores: store1 (example.com; LMTP to the first sink, concurrency
// BENCH_DRAIN_CONCURRENCY, 50) and other (other.example.com; LMTP to the second sink, concurrency 4).
// Then:
//   1. `holdfast hold store1`; the other store's delivery latency with nothing else going on:
//      BENCH_DRAIN_PROBES (40) messages one after another, each sent over SMTP to
//      user@other.example.com (bench/smtp-latency.ts) and timed from the start of its SMTP session to
//      its arrival at the second sink (the sink's own timestamp; both on this machine);
//   2. loads BENCH_DRAIN_MESSAGES messages for store1 with enqueueMessage on one connection to the
//      embedded Redis, 128 at a time, each with its `accepted` trace event (the transaction SMTP
//      reception commits, bypassing SMTP; bench/scale-load.ts; bodies gzip'd as by default). Redis used_memory before and after,
//      per message against the stored message's size;
//   3. status with the backlog: 100 calls one after another of GET /api/v1/stores (what
//      `holdfast status` reads), timed;
//   4. `holdfast release store1 --rate 1000000 --concurrency C` (limits lifted: no ramp), then every
//      second the first sink's count until every message arrived, while the other store's latency is
//      probed as in 1, one message every 500 ms. Prints the drain rate (overall, and p50/min of the
//      per-second rates), CPU ms per message of Holdfast's node processes (the main one and its
//      delivery processes) and its redis-server over the drain, the Redis commands per message
//      (INFO commandstats, bench/redis-commands.ts; the probes' few messages included), and the other
//      store's latency during the drain next to step 1's.
// At the end every child is stopped by PID and the temp dir removed (BENCH_KEEP=1 keeps it).
// Settings (environment): BENCH_DRAIN_MESSAGES=1000000 BENCH_DRAIN_SIZE=5120
// BENCH_DRAIN_CONCURRENCY=50 BENCH_DRAIN_PROCESSES=1 (Holdfast's workers.processes) BENCH_DRAIN_PROBES=40 BENCH_DRAIN_COMPRESSION=gzip|none (Holdfast's
// redis.bodyCompression, and how the loader stores the bodies) BENCH_DRAIN_PAYLOAD=text|random (the
// payload: smtp-source's text, or base64 lines of random bytes like an attachment) BENCH_JSON=FILE BENCH_KEEP=1
// BENCH_QUIET_WAIT=120 (before the baseline and before the release, wait up to this many seconds
// for the machine to be below 25% of one core busy).
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { createKeys } from '../src/queue/keys.js';
import { MailQueues } from '../src/queue/queues.js';
import { Trace } from '../src/repositories/trace.js';
import { createRedis } from '../src/redis/connections.js';
import { RedisCommandCounter, redisCommandsText } from './redis-commands.js';
import {
  Sink,
  StartedProcesses,
  buildInfo,
  describeBuild,
  findChildPid,
  fixed,
  freePort,
  holdfastCli,
  holdfastLogPath,
  makeTempDir,
  numberSetting,
  printLogProblems,
  removeTempDir,
  runBenchmark,
  startHoldfast,
  waitForQuietMachine,
} from './lib.js';
import { treeCpu, treeSnapshot } from './process-tree.js';
import { loadBacklog, MAILSTORE, messagePayload } from './scale-load.js';
import { percentile, runLatencyPass } from './smtp-latency.js';

const settings = {
  messages: numberSetting('BENCH_DRAIN_MESSAGES', 1_000_000),
  size: numberSetting('BENCH_DRAIN_SIZE', 5120),
  concurrency: numberSetting('BENCH_DRAIN_CONCURRENCY', 50),
  /** Holdfast's workers.processes. */
  processes: numberSetting('BENCH_DRAIN_PROCESSES', 1),
  probes: numberSetting('BENCH_DRAIN_PROBES', 40),
  /** As Holdfast's redis.bodyCompression (its default gzip). */
  /** text: smtp-source's letters (compress very well); random: base64 lines of random bytes, like an attachment. */
  payload: process.env.BENCH_DRAIN_PAYLOAD === 'random' ? ('random' as const) : ('text' as const),
  compression: process.env.BENCH_DRAIN_COMPRESSION === 'none' ? ('none' as const) : ('gzip' as const),
  producers: 128,
  statusCalls: 100,
  quietWaitS: numberSetting('BENCH_QUIET_WAIT', 120),
};
const OTHER = 'other';
const PROBE_INTERVAL_MS = 500;

const processes = new StartedProcesses('drain');
const log = (line: string) => process.stderr.write(`drain: ${line}\n`);
let tempDir: string | undefined;
const connections: Redis[] = [];

async function cleanUp(): Promise<void> {
  for (const connection of connections) connection.disconnect();
  await processes.stopAll();
  if (tempDir) removeTempDir(tempDir, 'drain');
}

function writeConfig(dir: string, ports: { smtp: number; admin: number; bulkSink: number; otherSink: number }): string {
  const path = join(dir, 'holdfast.yaml');
  writeFileSync(
    path,
    `# bench/backlog-drain.ts
listener:
  host: 127.0.0.1
  port: ${ports.smtp}
  hostname: mx.bench.test
admin:
  port: ${ports.admin}
limits:
  connections:
    perIp: 1000 # all the load comes from 127.0.0.1
domains:
  example.com:
    mailstore: ${MAILSTORE}
    rejectUnknownUsers: false
  other.example.com:
    mailstore: ${OTHER}
    rejectUnknownUsers: false
mailstores:
  ${MAILSTORE}:
    endpoints: ['127.0.0.1:${ports.bulkSink}']
    protocol: lmtp
    concurrency: ${settings.concurrency}
  ${OTHER}:
    endpoints: ['127.0.0.1:${ports.otherSink}']
    protocol: lmtp
    concurrency: 4
redis:
  embedded:
    dir: ${join(dir, 'redis')}
    maxmemory: 16gb
  bodyCompression: ${settings.compression}
workers:
  processes: ${settings.processes}
log:
  level: info
`,
  );
  return path;
}

/** One message to the other store over SMTP: milliseconds from the start of its session to its arrival at the sink. */
async function probeOther(port: number, sink: Sink): Promise<number> {
  const before = (await sink.stats()).messages;
  const started = Date.now();
  const result = await runLatencyPass({
    port,
    sessions: 1,
    messagesPerSession: 1,
    size: 2048,
    from: 'probe@example.org',
    to: `user@${OTHER}.example.com`,
  });
  if (result.sent !== 1) throw new Error(`probe not accepted: ${result.errors.join('; ')}`);
  for (;;) {
    const stats = await sink.stats();
    if (stats.messages > before) return stats.lastAt! - started;
    if (Date.now() - started > 60_000) throw new Error('probe not delivered within 60 s');
    await sleep(2);
  }
}

const summary = (samples: readonly number[]) =>
  `p50 ${fixed(percentile(samples, 50))} ms, p99 ${fixed(percentile(samples, 99))} ms, max ${fixed(Math.max(...samples))} ms (${samples.length} messages)`;

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

async function main(): Promise<void> {
  const build = buildInfo();
  log(describeBuild(build));
  log(
    `${settings.messages} messages of ${settings.size} B, store concurrency ${settings.concurrency}, ` +
      `${settings.processes} delivery process(es)`,
  );
  tempDir = makeTempDir('holdfast-drain-');
  const bulkSink = await Sink.start(processes);
  const otherSink = await Sink.start(processes);
  const ports = {
    smtp: await freePort(),
    admin: await freePort(),
    bulkSink: bulkSink.lmtpPort,
    otherSink: otherSink.lmtpPort,
  };
  const configPath = writeConfig(tempDir, ports);
  const holdfast = await startHoldfast(processes, configPath, holdfastLogPath(tempDir), ports.smtp);
  const redisPid = findChildPid(holdfast.pid!, 'redis-server');
  if (redisPid === undefined) throw new Error('no redis-server under holdfast');
  processes.addGrandchild(redisPid, 'redis-server');
  const cli = (...args: string[]) => holdfastCli(processes, configPath, ...args);
  await cli('hold', MAILSTORE, '--reason', 'bench: backlog');

  await waitForQuietMachine('drain', settings.quietWaitS);
  const idleLatency: number[] = [];
  for (let probe = 0; probe < settings.probes; probe++) idleLatency.push(await probeOther(ports.smtp, otherSink));
  log(`other store, idle: ${summary(idleLatency)}`);

  const url = `unix://${join(tempDir, 'redis', 'redis.sock')}`;
  const redis = createRedis({ url }, 'intake', 10_000);
  const control = createRedis({ url }, 'control', 10_000);
  connections.push(redis, control);
  const keys = createKeys('hf');
  const queues = new MailQueues(redis, keys, [MAILSTORE], () => undefined);
  const trace = new Trace(control, keys, {
    retention: 7 * 86_400_000,
    maxEventsPerMessage: 200,
    maxMessagesPerRecipient: 1000,
  });
  const memoryBefore = await usedMemory(control);
  const payload = messagePayload(settings.size, settings.payload);
  const loaded = await loadBacklog({
    queues,
    count: settings.messages,
    producers: settings.producers,
    payload,
    timeoutMs: 10_000,
    redisPid,
    progress: async () => `used_memory ${fixed((await usedMemory(control)) / 2 ** 20, 0)} MiB`,
    log,
    trace,
    compression: settings.compression,
  });
  await queues.close();
  const memoryAfter = await usedMemory(control);
  const storedSize = loaded.bytes / loaded.committed;
  const perMessage = (memoryAfter - memoryBefore) / loaded.committed;
  log(
    `loaded ${loaded.committed} in ${fixed(loaded.wallMs / 1000)} s (${fixed(loaded.committed / (loaded.wallMs / 1000), 0)} msgs/s), ` +
      `${loaded.failed} failed; Redis ${fixed(perMessage, 0)} B per message = ${fixed(perMessage / storedSize, 3)}x the ${fixed(storedSize, 0)} B stored`,
  );

  const adminUrl = `http://127.0.0.1:${ports.admin}/api/v1/stores`;
  const statusTimes: number[] = [];
  for (let call = 0; call < settings.statusCalls; call++) {
    const started = performance.now();
    const response = await fetch(adminUrl);
    const body = (await response.json()) as { stores: Array<{ mailstore: string; counts?: Record<string, number> }> };
    statusTimes.push(performance.now() - started);
    if (call === 0)
      log(`status: ${JSON.stringify(body.stores.find((store) => store.mailstore === MAILSTORE)?.counts)}`);
  }
  log(`status with the backlog: ${summary(statusTimes).replace('messages', 'calls')}`);

  await waitForQuietMachine('drain', settings.quietWaitS);
  await bulkSink.reset();
  // The whole tree: the main process, its delivery processes (workers.processes) and its Redis.
  const tree0 = treeSnapshot(holdfast.pid!);
  const commands = new RedisCommandCounter(url);
  await commands.start();
  const started = Date.now();
  await cli(
    'release',
    MAILSTORE,
    '--rate',
    '1000000',
    '--concurrency',
    String(settings.concurrency),
    '--reason',
    'bench: drain',
  );
  const drainLatency: number[] = [];
  let draining = true;
  const probing = (async () => {
    while (draining) {
      drainLatency.push(await probeOther(ports.smtp, otherSink));
      await sleep(PROBE_INTERVAL_MS);
    }
  })();
  const perSecond: number[] = [];
  let last = 0;
  let lastProgressAt = Date.now();
  for (;;) {
    await sleep(1000);
    const { messages } = await bulkSink.stats();
    perSecond.push(messages - last);
    if (messages !== last) lastProgressAt = Date.now();
    last = messages;
    if (perSecond.length % 10 === 0) log(`${messages} delivered after ${perSecond.length} s`);
    if (messages >= loaded.committed) break;
    if (Date.now() - lastProgressAt > 60_000) throw new Error(`drain stuck at ${messages} for 60 s`);
  }
  const { lastAt, firstAt } = await bulkSink.stats();
  const cpu = treeCpu(tree0, treeSnapshot(holdfast.pid!));
  const redisCommands = await commands.stop(loaded.committed);
  commands.close();
  const redisMs = cpu.byComm['redis-server'] ?? 0;
  const nodeMs = cpu.totalMs - redisMs;
  draining = false;
  await probing;
  const drainS = (lastAt! - started) / 1000;
  const full = perSecond.slice(1, -1);
  const figures = {
    build,
    settings,
    machine: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
    load: loaded,
    redisBytesPerMessage: perMessage,
    storedBytesPerMessage: storedSize,
    statusMs: { p50: percentile(statusTimes, 50), p99: percentile(statusTimes, 99), max: Math.max(...statusTimes) },
    drain: {
      seconds: drainS,
      firstDeliveryAfterS: (firstAt! - started) / 1000,
      rate: loaded.committed / drainS,
      perSecondP50: percentile(full, 50),
      perSecondMin: Math.min(...full),
      nodeCpuMsPerMessage: nodeMs / loaded.committed,
      redisCpuMsPerMessage: redisMs / loaded.committed,
      redis: redisCommands,
    },
    otherStoreMs: {
      idle: { p50: percentile(idleLatency, 50), p99: percentile(idleLatency, 99), max: Math.max(...idleLatency) },
      duringDrain: {
        p50: percentile(drainLatency, 50),
        p99: percentile(drainLatency, 99),
        max: Math.max(...drainLatency),
      },
    },
  };
  process.stdout.write(
    [
      '',
      `Backlog drain: ${loaded.committed} messages of ${settings.size} B ${settings.payload} payload, bodies ${settings.compression} (${fixed(storedSize, 0)} B stored), ${figures.machine}; ${describeBuild(build)}`,
      `  load (no SMTP):        ${fixed(loaded.committed / (loaded.wallMs / 1000), 0)} msgs/s`,
      `  Redis memory:          ${fixed(perMessage, 0)} B per queued message = ${fixed(perMessage / storedSize, 3)}x the message`,
      `  status with backlog:   ${summary(statusTimes).replace('messages', 'calls')}`,
      `  drain after release:   ${fixed(figures.drain.rate, 0)} msgs/s over ${fixed(drainS)} s (per second: p50 ${perSecondText(full)})`,
      `  CPU per message:       node ${fixed(figures.drain.nodeCpuMsPerMessage, 3)} ms, redis-server ${fixed(figures.drain.redisCpuMsPerMessage, 3)} ms`,
      `  Redis while draining:  ${redisCommandsText(redisCommands)}`,
      `  other store, idle:     ${summary(idleLatency)}`,
      `  other store, draining: ${summary(drainLatency)}`,
      '',
    ].join('\n'),
  );
  printLogProblems(holdfastLogPath(tempDir));
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, `${JSON.stringify(figures, null, 2)}\n`);
}

function perSecondText(samples: readonly number[]): string {
  return samples.length === 0 ? 'n/a' : `${fixed(percentile(samples, 50), 0)}, min ${fixed(Math.min(...samples), 0)}`;
}

await runBenchmark('drain', main, {
  onFailure: () => {
    if (tempDir) printLogProblems(holdfastLogPath(tempDir));
  },
  cleanUp,
});

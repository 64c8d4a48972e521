// Holdfast throughput and latency benchmark.
//
//   npm run build && npx tsx bench/run.ts
//
// It makes a temp dir with a config (listener on a free port, domain example.com with
// rejectUnknownUsers false, one mailstore "sink", concurrency 20, the embedded Redis in the temp
// dir), starts the counting LMTP sink (bench/lmtp-sink.ts) and `node bin/holdfast.js start -c
// CONFIG` as child processes, then:
//   1. warm-up: BENCH_WARMUP messages through smtp-source, waits until delivered (not measured);
//   2. throughput: /usr/sbin/smtp-source -s SESSIONS -m MESSAGES -l SIZE -f bench@example.org
//      -t user@example.com 127.0.0.1:PORT; accepted msgs/s = messages / smtp-source wall time,
//      delivered msgs/s = messages / (last delivery at the sink - start of sending); CPU of the
//      Holdfast node process and its redis-server child from /proc/PID/stat (utime+stime) over the
//      pass, until the last delivery; peak RSS (VmHWM) of the Holdfast process;
//   3. latency: bench/smtp-latency.ts, LATENCY_SESSIONS sessions each sending LATENCY_PER_SESSION
//      messages one after the other over one connection; time from the final "." to the 250.
// Then it stops every child by PID and removes the temp dir (BENCH_KEEP=1 keeps it).
//
// Settings (environment): BENCH_MESSAGES=5000 BENCH_SESSIONS=20 BENCH_SIZE=5120 BENCH_WARMUP=200
// BENCH_LATENCY_SESSIONS=20 BENCH_LATENCY_PER_SESSION=500 BENCH_REUSE=1 (smtp-source -d: keep the
// connection for the next message; default is one connection per message) BENCH_PER_IP=1000
// (limits.connections.perIp; all load comes from 127.0.0.1) SMTP_SOURCE=/usr/sbin/smtp-source
// BENCH_JSON=FILE (also write the figures as JSON) BENCH_KEEP=1 (keep the temp dir and its log)
// BENCH_PROFILE=DIR (Holdfast writes a V8 CPU profile into DIR when it stops)
// BENCH_QUIET_WAIT=600 (before each pass, wait up to this many seconds for the machine to be below
// 25% of one core busy: other processes, e.g. test runs, skew the figures on a small box).
// Every pass also reports the CPU that the sink, the load generator and other processes used.
import { existsSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import {
  StartedProcesses,
  buildInfo,
  checkPrerequisites,
  describeBuild,
  fixed,
  holdfastLogPath,
  machineBusyMs,
  makeTempDir,
  numberSetting,
  ownCpuMs,
  printLogProblems,
  procStatusKb,
  processCpuMs,
  removeTempDir,
  runBenchmark,
  runSmtpSource,
  startSinkAndHoldfast,
  summarizeHoldfastLog,
  waitForQuietMachine,
} from './lib.js';
import { percentile, runLatencyPass } from './smtp-latency.js';

const settings = {
  messages: numberSetting('BENCH_MESSAGES', 5000),
  sessions: numberSetting('BENCH_SESSIONS', 20),
  size: numberSetting('BENCH_SIZE', 5120),
  warmup: numberSetting('BENCH_WARMUP', 200),
  latencySessions: numberSetting('BENCH_LATENCY_SESSIONS', 20),
  latencyPerSession: numberSetting('BENCH_LATENCY_PER_SESSION', 500),
  perIp: numberSetting('BENCH_PER_IP', 1000),
  reuse: process.env.BENCH_REUSE === '1',
  quietWaitS: numberSetting('BENCH_QUIET_WAIT', 600),
  smtpSource: process.env.SMTP_SOURCE ?? '/usr/sbin/smtp-source',
  from: 'bench@example.org',
  to: 'user@example.com',
};

const processes = new StartedProcesses('bench');
let tempDir: string | undefined;
/** How many log lines above info were already printed. */
let reportedProblems = 0;

// ---------------------------------------------------------------- CPU of the pass

/** CPU time a process used so far, in ms; fails once it is gone (a pass without it means nothing). */
function liveCpuMs(pid: number): number {
  const ms = processCpuMs(pid);
  if (Number.isNaN(ms)) throw new Error(`process ${pid} is gone`);
  return ms;
}

interface CpuSnapshot {
  holdfast: number;
  redis: number;
  sink: number;
  /** smtp-source runs that ended (the children this process waited for). */
  load: number;
  /** This process: the latency client runs here, and the polling. */
  bench: number;
  machine: number;
}

function cpuSnapshot(pids: { holdfast: number; redis: number; sink: number }): CpuSnapshot {
  const own = ownCpuMs();
  return {
    holdfast: liveCpuMs(pids.holdfast),
    redis: liveCpuMs(pids.redis),
    sink: liveCpuMs(pids.sink),
    load: own.waitedChildren,
    bench: own.self,
    machine: machineBusyMs(),
  };
}

/** CPU used between two snapshots; `others` is what other processes on the machine used meanwhile. */
function cpuDelta(before: CpuSnapshot, after: CpuSnapshot) {
  const delta = (key: keyof CpuSnapshot) => after[key] - before[key];
  const ours = delta('holdfast') + delta('redis') + delta('sink') + delta('load') + delta('bench');
  return {
    holdfast: delta('holdfast'),
    redis: delta('redis'),
    sink: delta('sink'),
    load: delta('load'),
    bench: delta('bench'),
    machine: delta('machine'),
    others: Math.max(0, delta('machine') - ours),
  };
}

// ---------------------------------------------------------------- processes

/** Stops every child by PID (the redis-server grandchild too), reports new log problems, removes the temp dir. */
async function cleanUp(): Promise<void> {
  await processes.stopAll();
  if (!tempDir) return;
  const logPath = holdfastLogPath(tempDir);
  if (existsSync(logPath)) {
    const problems = summarizeHoldfastLog(logPath).problems.slice(reportedProblems);
    if (problems.length > 0)
      process.stderr.write(`bench: new log lines above info at shutdown:\n  ${problems.join('\n  ')}\n`);
  }
  removeTempDir(tempDir, 'bench');
}

/** smtp-source with the benchmark's sessions, size and connection mode. */
function smtpSource(port: number, messages: number): Promise<{ wallMs: number; startAt: number }> {
  return runSmtpSource(processes, {
    binary: settings.smtpSource,
    port,
    sessions: settings.sessions,
    messages,
    size: settings.size,
    from: settings.from,
    to: settings.to,
    reuseConnections: settings.reuse,
  });
}

// ---------------------------------------------------------------- report

function table(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`).join('\n');
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  checkPrerequisites(settings.smtpSource);
  const build = buildInfo();
  process.stderr.write(`bench: ${describeBuild(build)}\n`);
  tempDir = makeTempDir('holdfast-bench-');
  const logPath = holdfastLogPath(tempDir);

  const { sink, port, holdfast, redisPid } = await startSinkAndHoldfast(processes, tempDir, {
    writtenBy: 'Holdfast benchmark config (written by bench/run.ts)',
    perIp: settings.perIp,
    mailstore: 'sink',
    concurrency: 20,
  });
  const holdfastPid = holdfast.pid!;
  if (redisPid === undefined) throw new Error(`no redis-server child of holdfast ${holdfastPid}`);
  const sinkPid = sink.pid;
  process.stderr.write(`bench: holdfast pid ${holdfastPid}, redis-server pid ${redisPid}, sink pid ${sinkPid}\n`);
  process.stderr.write(`bench: temp dir ${tempDir}, smtp port ${port}, sink port ${sink.lmtpPort}\n`);

  if (settings.warmup > 0) {
    process.stderr.write(`bench: warm-up, ${settings.warmup} messages\n`);
    await smtpSource(port, settings.warmup);
    await sink.waitFor(settings.warmup);
    await sink.reset();
  }

  // Throughput pass.
  process.stderr.write(`bench: throughput, ${settings.messages} messages from ${settings.sessions} sessions\n`);
  const pids = { holdfast: holdfastPid, redis: redisPid, sink: sinkPid };
  const throughputIdle = await waitForQuietMachine('bench: throughput', settings.quietWaitS);
  const throughputCpu0 = cpuSnapshot(pids);
  const send = await smtpSource(port, settings.messages);
  const delivered = await sink.waitFor(settings.messages);
  const throughputCpu = cpuDelta(throughputCpu0, cpuSnapshot(pids));
  const deliveredMs = delivered.lastAt! - send.startAt;
  const hwmAfterThroughput = procStatusKb(holdfastPid, 'VmHWM');
  await sink.reset();

  // Latency pass.
  process.stderr.write(
    `bench: latency, ${settings.latencySessions} sessions x ${settings.latencyPerSession} messages\n`,
  );
  const latencyIdle = await waitForQuietMachine('bench: latency', settings.quietWaitS);
  const latencyCpu0 = cpuSnapshot(pids);
  const latencyStartAt = Date.now();
  const latency = await runLatencyPass({
    port,
    sessions: settings.latencySessions,
    messagesPerSession: settings.latencyPerSession,
    size: settings.size,
    from: settings.from,
    to: settings.to,
  });
  const latencyAccepted = latency.dataEndToReply.length;
  const latencyDelivered = await sink.waitFor(latencyAccepted);
  const latencyCpu = cpuDelta(latencyCpu0, cpuSnapshot(pids));
  const latencyDeliveredMs = latencyDelivered.lastAt! - latencyStartAt;

  const hwmEnd = procStatusKb(holdfastPid, 'VmHWM');
  const rssEnd = procStatusKb(holdfastPid, 'VmRSS');
  const redisHwm = procStatusKb(redisPid, 'VmHWM');
  const log = summarizeHoldfastLog(logPath);
  const buildAfter = buildInfo();
  const distChanged = buildAfter.distBuiltAt !== build.distBuiltAt;

  const perMessage = (ms: number, messages: number) => ms / messages;
  const figures = {
    machine: { nproc: cpus().length, cpu: cpus()[0]?.model ?? '?' },
    settings,
    build: { ...build, distChangedDuringRun: distChanged },
    throughput: {
      messages: settings.messages,
      smtpSourceWallMs: send.wallMs,
      acceptedPerSecond: settings.messages / (send.wallMs / 1000),
      deliveredMs,
      deliveredPerSecond: settings.messages / (deliveredMs / 1000),
      sinkMessages: delivered.messages,
      cpuMs: throughputCpu,
      cpuMsPerMessage: perMessage(throughputCpu.holdfast + throughputCpu.redis, settings.messages),
      holdfastCpuMsPerMessage: perMessage(throughputCpu.holdfast, settings.messages),
      redisCpuMsPerMessage: perMessage(throughputCpu.redis, settings.messages),
      holdfastVmHWMKb: hwmAfterThroughput,
      busyBeforeShare: throughputIdle,
    },
    latency: {
      sent: latency.sent,
      accepted: latencyAccepted,
      delivered: latencyDelivered.messages,
      wallMs: latency.wallMs,
      acceptedPerSecond: latencyAccepted / (latency.wallMs / 1000),
      deliveredPerSecond: latencyAccepted / (latencyDeliveredMs / 1000),
      dataEndP50: percentile(latency.dataEndToReply, 50),
      dataEndP90: percentile(latency.dataEndToReply, 90),
      dataEndP99: percentile(latency.dataEndToReply, 99),
      dataEndMax: percentile(latency.dataEndToReply, 100),
      transactionP50: percentile(latency.transaction, 50),
      transactionP99: percentile(latency.transaction, 99),
      cpuMs: latencyCpu,
      cpuMsPerMessage: perMessage(latencyCpu.holdfast + latencyCpu.redis, latencyAccepted),
      busyBeforeShare: latencyIdle,
      errors: latency.errors.slice(0, 10),
    },
    end: { holdfastVmHWMKb: hwmEnd, holdfastVmRSSKb: rssEnd, redisVmHWMKb: redisHwm },
    log: { lines: log.lines, queued: log.queued, byLevel: log.byLevel, problems: log.problems.slice(0, 20) },
  };

  const t = figures.throughput;
  const l = figures.latency;
  const mb = (kb: number) => `${fixed(kb / 1024)} MB`;
  const cpuLine = (cpu: typeof throughputCpu, messages: number) =>
    `${fixed(perMessage(cpu.holdfast + cpu.redis, messages), 3)} ms ` +
    `(holdfast ${fixed(perMessage(cpu.holdfast, messages), 3)} + redis ${fixed(perMessage(cpu.redis, messages), 3)})`;
  const otherCpuLine = (cpu: typeof throughputCpu, wallMs: number) =>
    `sink ${fixed(cpu.sink / 1000, 2)} s, load generator ${fixed((cpu.load + cpu.bench) / 1000, 2)} s, ` +
    `other processes ${fixed(cpu.others / 1000, 2)} s; machine busy ${fixed((cpu.machine / wallMs) * 100, 0)}% ` +
    `of ${cpus().length * 100}% over ${fixed(wallMs / 1000, 2)} s`;
  process.stdout.write(
    `\nHoldfast benchmark: ${figures.machine.nproc} x ${figures.machine.cpu}, ${settings.size} B payload\n\n` +
      `Throughput: smtp-source, ${settings.messages} messages, ${settings.sessions} sessions, ` +
      `${settings.reuse ? 'connections reused (-d)' : 'one connection per message'}\n` +
      table([
        ['smtp-source wall time', `${fixed(t.smtpSourceWallMs / 1000, 2)} s`],
        ['accepted', `${fixed(t.acceptedPerSecond)} msgs/s`],
        ['all delivered after', `${fixed(deliveredMs / 1000, 2)} s (sink counted ${t.sinkMessages})`],
        ['delivered', `${fixed(t.deliveredPerSecond)} msgs/s`],
        ['CPU per message', cpuLine(throughputCpu, settings.messages)],
        ['other CPU in the pass', otherCpuLine(throughputCpu, deliveredMs)],
        ['holdfast peak RSS', `${mb(t.holdfastVmHWMKb)} (VmHWM)`],
      ]) +
      `\n\nLatency: ${settings.latencySessions} sessions x ${settings.latencyPerSession} messages, one connection per session\n` +
      table([
        [
          'accepted',
          `${l.accepted} of ${l.sent} in ${fixed(l.wallMs / 1000, 2)} s (${fixed(l.acceptedPerSecond)} msgs/s)`,
        ],
        [
          'delivered',
          `${l.delivered} after ${fixed(latencyDeliveredMs / 1000, 2)} s (${fixed(l.deliveredPerSecond)} msgs/s)`,
        ],
        [
          'DATA end -> 250',
          `p50 ${fixed(l.dataEndP50, 2)} ms, p90 ${fixed(l.dataEndP90, 2)} ms, p99 ${fixed(l.dataEndP99, 2)} ms, max ${fixed(l.dataEndMax, 2)} ms`,
        ],
        ['MAIL FROM -> 250', `p50 ${fixed(l.transactionP50, 2)} ms, p99 ${fixed(l.transactionP99, 2)} ms`],
        ['CPU per message', cpuLine(latencyCpu, latencyAccepted)],
        ['other CPU in the pass', otherCpuLine(latencyCpu, latencyDeliveredMs)],
      ]) +
      `\n\nEnd: holdfast VmHWM ${mb(hwmEnd)}, VmRSS ${mb(rssEnd)}; redis-server VmHWM ${mb(redisHwm)}\n` +
      `Build: ${describeBuild(build, buildAfter)}\n` +
      `Holdfast log: ${log.lines} lines, ${log.queued} "message queued", levels ${JSON.stringify(log.byLevel)}` +
      `${log.stateChanges > 0 ? `, ${log.stateChanges} mailstore state changes (warn)` : ''}\n`,
  );
  if (latency.errors.length > 0) process.stdout.write(`Latency client errors:\n  ${l.errors.join('\n  ')}\n`);
  reportedProblems = log.problems.length;
  if (log.problems.length > 0) process.stdout.write(`Log lines above info:\n  ${figures.log.problems.join('\n  ')}\n`);
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, `${JSON.stringify(figures, null, 2)}\n`);
}

await runBenchmark('bench', main, {
  onFailure: () => {
    if (tempDir) reportedProblems = printLogProblems(holdfastLogPath(tempDir));
  },
  cleanUp,
});

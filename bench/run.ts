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
// BENCH_QUIET_WAIT=600 (before each pass, wait up to this many seconds for the machine to be below
// 25% of one core busy: other processes, e.g. test runs, skew the figures on a small box).
// Every pass also reports the CPU that the sink, the load generator and other processes used.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { percentile, runLatencyPass } from './smtp-latency.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** What is being measured: the commit, whether src/ differs from it, and when dist/ was built. */
function buildInfo(): { commit: string; srcDirty: boolean; distBuiltAt: string } {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  };
  return {
    commit: git('rev-parse', '--short', 'HEAD'),
    srcDirty: git('status', '--porcelain', '--', 'src') !== '',
    distBuiltAt: statSync(join(root, 'dist/main.js')).mtime.toISOString(),
  };
}

function setting(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number >= 0`);
  return value;
}

const settings = {
  messages: setting('BENCH_MESSAGES', 5000),
  sessions: setting('BENCH_SESSIONS', 20),
  size: setting('BENCH_SIZE', 5120),
  warmup: setting('BENCH_WARMUP', 200),
  latencySessions: setting('BENCH_LATENCY_SESSIONS', 20),
  latencyPerSession: setting('BENCH_LATENCY_PER_SESSION', 500),
  perIp: setting('BENCH_PER_IP', 1000),
  reuse: process.env.BENCH_REUSE === '1',
  quietWaitS: setting('BENCH_QUIET_WAIT', 600),
  smtpSource: process.env.SMTP_SOURCE ?? '/usr/sbin/smtp-source',
  from: 'bench@example.org',
  to: 'user@example.com',
};

const QUIET_SHARE = 0.25;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

// ---------------------------------------------------------------- /proc helpers

interface ProcStat {
  comm: string;
  ppid: number;
  ticks: number;
}

function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  // After ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
  const fields = text.slice(close + 2).split(' ');
  if (fields[0] === 'Z') return undefined;
  return { comm: text.slice(open + 1, close), ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
}

function cpuMs(pid: number): number {
  const stat = procStat(pid);
  if (!stat) throw new Error(`process ${pid} is gone`);
  return (stat.ticks * 1000) / CLK_TCK;
}

/** This process's own CPU, and that of its children it has waited for (smtp-source, once it exited). */
function selfCpuMs(): { self: number; waitedChildren: number } {
  const text = readFileSync('/proc/self/stat', 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ms = (index: number) => (Number(fields[index]) * 1000) / CLK_TCK;
  return { self: ms(11) + ms(12), waitedChildren: ms(13) + ms(14) };
}

/** Busy CPU time of the whole machine (all cores) from /proc/stat, in ms. */
function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 1000) / CLK_TCK;
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
  const self = selfCpuMs();
  return {
    holdfast: cpuMs(pids.holdfast),
    redis: cpuMs(pids.redis),
    sink: cpuMs(pids.sink),
    load: self.waitedChildren,
    bench: self.self,
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

function statusKb(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : Number.NaN;
}

function childPid(parent: number, comm: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat && stat.ppid === parent && stat.comm === comm) return Number(entry);
  }
  return undefined;
}

// ---------------------------------------------------------------- processes

const started: ChildProcess[] = [];
let tempDir: string | undefined;
let redisPid: number | undefined;
/** How many log lines above info were already printed. */
let reportedProblems = 0;

function track(child: ChildProcess): ChildProcess {
  started.push(child);
  return child;
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

async function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (!alive(child)) return true;
  const exited = new Promise<boolean>((done) => child.once('exit', () => done(true)));
  return Promise.race([exited, sleep(timeoutMs).then(() => !alive(child))]);
}

/** Stops every child by PID: SIGTERM, then SIGKILL after a grace; the redis-server grandchild too. */
async function stopAll(): Promise<void> {
  for (const child of [...started].reverse()) {
    if (!alive(child)) continue;
    child.kill('SIGTERM');
    if (!(await waitExit(child, 40_000))) {
      process.stderr.write(`bench: pid ${child.pid} did not stop on SIGTERM; SIGKILL\n`);
      child.kill('SIGKILL');
      await waitExit(child, 5000);
    }
  }
  // Holdfast stops its redis-server itself; if it could not, stop it here (only if it is still that process).
  if (redisPid !== undefined && procStat(redisPid)?.comm === 'redis-server') {
    process.stderr.write(`bench: redis-server ${redisPid} still running; SIGTERM\n`);
    process.kill(redisPid, 'SIGTERM');
    for (let i = 0; i < 100 && procStat(redisPid) !== undefined; i++) await sleep(100);
    if (procStat(redisPid)?.comm === 'redis-server') process.kill(redisPid, 'SIGKILL');
  }
  const logPath = tempDir ? join(tempDir, 'holdfast.log') : undefined;
  if (logPath && existsSync(logPath)) {
    const problems = summarizeLog(logPath).problems.slice(reportedProblems);
    if (problems.length > 0)
      process.stderr.write(`bench: new log lines above info at shutdown:\n  ${problems.join('\n  ')}\n`);
  }
  if (tempDir && process.env.BENCH_KEEP !== '1') rmSync(tempDir, { recursive: true, force: true });
  else if (tempDir) process.stderr.write(`bench: kept ${tempDir}\n`);
}

/**
 * Waits until the machine is quiet (other processes, e.g. test runs, skew the figures on a small
 * box): busy below QUIET_SHARE of one core over 2 s, for at most BENCH_QUIET_WAIT seconds.
 * Returns the last busy share seen (1 = one core).
 */
async function waitForQuiet(label: string): Promise<number> {
  const deadline = Date.now() + settings.quietWaitS * 1000;
  let said = false;
  for (;;) {
    const before = machineBusyMs();
    await sleep(2000);
    const share = (machineBusyMs() - before) / 2000;
    if (share < QUIET_SHARE) return share;
    if (Date.now() > deadline) {
      process.stderr.write(`bench: ${label}: machine still ${fixed(share * 100, 0)}% busy; running anyway\n`);
      return share;
    }
    if (!said) process.stderr.write(`bench: ${label}: machine ${fixed(share * 100, 0)}% busy; waiting for quiet\n`);
    said = true;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (typeof address !== 'object' || !address) throw new Error('no free port');
  return address.port;
}

interface SinkStats {
  messages: number;
  recipients: number;
  bytes: number;
  firstAt: number | null;
  lastAt: number | null;
}

class Sink {
  constructor(
    readonly lmtpPort: number,
    private readonly httpPort: number,
  ) {}

  static async start(): Promise<Sink> {
    const child = track(
      spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/lmtp-sink.ts'), '0', '0'], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    const line = await new Promise<string>((done, fail) => {
      let text = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('\n')) done(text.split('\n')[0]!);
      });
      child.once('exit', (code) => fail(new Error(`sink exited with ${code}`)));
    });
    const ports = JSON.parse(line) as { lmtpPort: number; httpPort: number };
    return new Sink(ports.lmtpPort, ports.httpPort);
  }

  async stats(): Promise<SinkStats> {
    const response = await fetch(`http://127.0.0.1:${this.httpPort}/stats`);
    return (await response.json()) as SinkStats;
  }

  async reset(): Promise<void> {
    await fetch(`http://127.0.0.1:${this.httpPort}/reset`, { method: 'POST' });
  }

  /** Waits until the sink counted `count` messages; fails after 60 s without progress. */
  async waitFor(count: number): Promise<SinkStats> {
    let last = -1;
    let progressAt = Date.now();
    for (;;) {
      const stats = await this.stats();
      if (stats.messages >= count) return stats;
      if (stats.messages !== last) {
        last = stats.messages;
        progressAt = Date.now();
      } else if (Date.now() - progressAt > 60_000) {
        throw new Error(`sink stuck at ${stats.messages} of ${count} messages for 60 s`);
      }
      await sleep(100);
    }
  }
}

function writeConfig(dir: string, port: number, sinkPort: number): string {
  const path = join(dir, 'holdfast.yaml');
  writeFileSync(
    path,
    `# Holdfast benchmark config (written by bench/run.ts)
listener:
  host: 127.0.0.1
  port: ${port}
  hostname: mx.bench.test
limits:
  connections:
    perIp: ${settings.perIp} # all the load comes from 127.0.0.1
domains:
  example.com:
    mailstore: sink
    rejectUnknownUsers: false
mailstores:
  sink:
    endpoints: ['127.0.0.1:${sinkPort}']
    protocol: lmtp
    concurrency: 20
redis:
  embedded:
    dir: ${join(dir, 'redis')}
log:
  level: info
`,
  );
  return path;
}

async function startHoldfast(config: string, logPath: string, port: number): Promise<ChildProcess> {
  const log = openSync(logPath, 'a');
  const child = track(
    spawn(process.execPath, [join(root, 'bin/holdfast.js'), 'start', '-c', config], {
      cwd: root,
      stdio: ['ignore', log, log],
    }),
  );
  closeSync(log);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (!alive(child)) throw new Error(`holdfast exited (${child.exitCode}); log:\n${readFileSync(logPath, 'utf8')}`);
    if (readFileSync(logPath, 'utf8').includes('"msg":"ready"')) return child;
    await sleep(100);
  }
  throw new Error(`holdfast not ready on port ${port} within 30 s; log:\n${readFileSync(logPath, 'utf8')}`);
}

async function smtpSource(port: number, messages: number): Promise<{ wallMs: number; startAt: number }> {
  const args = ['-s', String(settings.sessions), '-m', String(messages), '-l', String(settings.size)];
  args.push('-f', settings.from, '-t', settings.to, ...(settings.reuse ? ['-d'] : []), `127.0.0.1:${port}`);
  const startAt = Date.now();
  const begin = performance.now();
  const child = track(spawn(settings.smtpSource, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((done) => child.once('exit', (exitCode) => done(exitCode)));
  const wallMs = performance.now() - begin;
  if (code !== 0) throw new Error(`smtp-source exited with ${code}: ${output.trim()}`);
  if (output.trim()) process.stderr.write(`smtp-source: ${output.trim()}\n`);
  return { wallMs, startAt };
}

// ---------------------------------------------------------------- report

interface LogSummary {
  lines: number;
  queued: number;
  byLevel: Record<string, number>;
  problems: string[];
}

function summarizeLog(path: string): LogSummary {
  const summary: LogSummary = { lines: 0, queued: 0, byLevel: {}, problems: [] };
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    summary.lines++;
    let entry: { level?: string; msg?: string };
    try {
      entry = JSON.parse(line) as { level?: string; msg?: string };
    } catch {
      summary.problems.push(line);
      continue;
    }
    const level = entry.level ?? '?';
    summary.byLevel[level] = (summary.byLevel[level] ?? 0) + 1;
    if (entry.msg === 'message queued') summary.queued++;
    if (level !== 'info' && level !== 'debug' && level !== 'trace') summary.problems.push(line);
  }
  return summary;
}

const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

function table(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`).join('\n');
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  if (!existsSync(join(root, 'dist/main.js'))) throw new Error('dist/main.js is missing: run npm run build first');
  if (!existsSync(settings.smtpSource))
    throw new Error(`${settings.smtpSource} not found (Debian: apt install postfix)`);
  const build = buildInfo();
  process.stderr.write(
    `bench: commit ${build.commit}${build.srcDirty ? ' (src/ has uncommitted changes)' : ''}, dist built ${build.distBuiltAt}\n`,
  );
  tempDir = mkdtempSync(join(tmpdir(), 'holdfast-bench-'));
  const logPath = join(tempDir, 'holdfast.log');

  const sink = await Sink.start();
  const port = await freePort();
  const config = writeConfig(tempDir, port, sink.lmtpPort);
  const holdfast = await startHoldfast(config, logPath, port);
  const holdfastPid = holdfast.pid!;
  redisPid = childPid(holdfastPid, 'redis-server');
  if (redisPid === undefined) throw new Error(`no redis-server child of holdfast ${holdfastPid}`);
  const sinkPid = started[0]!.pid!;
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
  const throughputIdle = await waitForQuiet('throughput');
  const throughputCpu0 = cpuSnapshot(pids);
  const send = await smtpSource(port, settings.messages);
  const delivered = await sink.waitFor(settings.messages);
  const throughputCpu = cpuDelta(throughputCpu0, cpuSnapshot(pids));
  const deliveredMs = delivered.lastAt! - send.startAt;
  const hwmAfterThroughput = statusKb(holdfastPid, 'VmHWM');
  await sink.reset();

  // Latency pass.
  process.stderr.write(
    `bench: latency, ${settings.latencySessions} sessions x ${settings.latencyPerSession} messages\n`,
  );
  const latencyIdle = await waitForQuiet('latency');
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

  const hwmEnd = statusKb(holdfastPid, 'VmHWM');
  const rssEnd = statusKb(holdfastPid, 'VmRSS');
  const redisHwm = statusKb(redisPid, 'VmHWM');
  const log = summarizeLog(logPath);
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
      `Build: commit ${build.commit}${build.srcDirty ? ' + uncommitted src/ changes' : ''}, dist built ${build.distBuiltAt}` +
      `${distChanged ? ` (WARNING: dist/ was rebuilt during the run, at ${buildAfter.distBuiltAt})` : ''}\n` +
      `Holdfast log: ${log.lines} lines, ${log.queued} "message queued", levels ${JSON.stringify(log.byLevel)}\n`,
  );
  if (latency.errors.length > 0) process.stdout.write(`Latency client errors:\n  ${l.errors.join('\n  ')}\n`);
  reportedProblems = log.problems.length;
  if (log.problems.length > 0) process.stdout.write(`Log lines above info:\n  ${figures.log.problems.join('\n  ')}\n`);
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, `${JSON.stringify(figures, null, 2)}\n`);
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`bench: ${signal}, stopping\n`);
    void stopAll().finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (error) {
  process.exitCode = 1;
  process.stderr.write(`bench: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  if (tempDir && existsSync(join(tempDir, 'holdfast.log'))) {
    const problems = summarizeLog(join(tempDir, 'holdfast.log')).problems;
    reportedProblems = problems.length;
    if (problems.length > 0)
      process.stderr.write(`Holdfast log lines above info:\n  ${problems.slice(0, 20).join('\n  ')}\n`);
  }
} finally {
  if (!interrupted) await stopAll();
}

// Shared by bench/run.ts and bench/ramp.ts: temp dir and config, child processes, /proc figures, the sink, Holdfast.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { allProcesses, parseProcStat, readProcStat, ticksToMs } from './process-tree.js';

/** The repository root: the children run here, and bin/, dist/ and bench/ are found from it. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------- settings and output

/** The number >= 0 in the environment variable `name`, or `fallback` when it is not set. */
export function numberSetting(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number >= 0`);
  return value;
}

/** The comma-separated numbers >= 0 in the environment variable `name` ("1,20,100"), or `fallback`. */
export function listSetting(name: string, fallback: readonly number[]): number[] {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') return [...fallback];
  const values = text.split(',').map((part) => Number(part.trim()));
  if (values.some((value) => !Number.isFinite(value) || value < 0))
    throw new Error(`${name} must be numbers >= 0 separated by commas`);
  return values;
}

/** `value` with `digits` decimals, or "n/a" when it is not a finite number. */
export const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

// ---------------------------------------------------------------- what is measured

export interface BuildInfo {
  commit: string;
  srcDirty: boolean;
  distBuiltAt: string;
}

/** What is being measured: the commit, whether src/ differs from it, and when dist/ was built. */
export function buildInfo(): BuildInfo {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  };
  return {
    commit: git('rev-parse', '--short', 'HEAD'),
    srcDirty: git('status', '--porcelain', '--', 'src') !== '',
    distBuiltAt: statSync(join(repoRoot, 'dist/main.js')).mtime.toISOString(),
  };
}

/** "commit C[ + uncommitted src/ changes], dist built T[ (WARNING: dist/ was rebuilt ...)]". */
export function describeBuild(build: BuildInfo, after?: BuildInfo): string {
  const rebuilt = after !== undefined && after.distBuiltAt !== build.distBuiltAt;
  return (
    `commit ${build.commit}${build.srcDirty ? ' + uncommitted src/ changes' : ''}, dist built ${build.distBuiltAt}` +
    `${rebuilt ? ` (WARNING: dist/ was rebuilt during the run, at ${after.distBuiltAt})` : ''}`
  );
}

/** Fails unless dist/ is built and the smtp-source binary is there. */
export function checkPrerequisites(smtpSource: string): void {
  if (!existsSync(join(repoRoot, 'dist/main.js'))) throw new Error('dist/main.js is missing: run npm run build first');
  if (!existsSync(smtpSource)) throw new Error(`${smtpSource} not found (Debian: apt install postfix)`);
}

// ---------------------------------------------------------------- /proc figures

/** Below this share of one core busy, the machine counts as quiet. */
const QUIET_SHARE = 0.25;

/** CPU time (user + system) a process used so far, in ms; NaN once it is gone. */
export function processCpuMs(pid: number | undefined): number {
  const stat = pid === undefined ? undefined : readProcStat(pid);
  return stat ? ticksToMs(stat.ticks) : Number.NaN;
}

/** This process's own CPU, and that of its children it has waited for (smtp-source, once it exited), in ms. */
export function ownCpuMs(): { self: number; waitedChildren: number } {
  const stat = parseProcStat(process.pid, readFileSync('/proc/self/stat', 'utf8'));
  return { self: ticksToMs(stat.ticks), waitedChildren: ticksToMs(stat.waitedChildrenTicks) };
}

/** Busy CPU time of the whole machine (all cores) from /proc/stat, in ms. */
export function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const ticks = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
  return ticksToMs(ticks);
}

/** A "NAME: N kB" figure (VmHWM, VmRSS, ...) from /proc/PID/status; NaN when it is not there. */
export function procStatusKb(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : Number.NaN;
}

/** The PID of the child of `parent` named `comm` (e.g. Holdfast's redis-server), if there is one. */
export function findChildPid(parent: number, comm: string): number | undefined {
  return allProcesses().find((stat) => stat.ppid === parent && stat.comm === comm && stat.state !== 'Z')?.pid;
}

/**
 * Waits until the machine is quiet (other processes, e.g. test runs, skew the figures on a small
 * box): busy below QUIET_SHARE of one core over 2 s, for at most `maxWaitS` seconds.
 * Returns the last busy share seen (1 = one core). `logPrefix` starts the lines it writes to stderr.
 */
export async function waitForQuietMachine(logPrefix: string, maxWaitS: number): Promise<number> {
  const deadline = Date.now() + maxWaitS * 1000;
  let said = false;
  for (;;) {
    const before = machineBusyMs();
    await sleep(2000);
    const share = (machineBusyMs() - before) / 2000;
    if (share < QUIET_SHARE) return share;
    if (Date.now() > deadline) {
      process.stderr.write(`${logPrefix}: machine still ${fixed(share * 100, 0)}% busy; running anyway\n`);
      return share;
    }
    if (!said) process.stderr.write(`${logPrefix}: machine ${fixed(share * 100, 0)}% busy; waiting for quiet\n`);
    said = true;
  }
}

// ---------------------------------------------------------------- child processes

/**
 * Children run in their own process group, so that a Ctrl-C reaches only the benchmark, which then
 * stops them in order. (Sent to Holdfast's embedded redis-server as well, it had Holdfast restart
 * Redis while shutting down, and that Redis outlived it.)
 */
const OWN_PROCESS_GROUP = true;

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Resolves true once `child` exited, or false if it still runs after `timeoutMs`. */
async function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (!isRunning(child)) return true;
  const exited = new Promise<boolean>((done) => child.once('exit', () => done(true)));
  return Promise.race([exited, sleep(timeoutMs).then(() => !isRunning(child))]);
}

/** Every process a benchmark started, so that it can stop them all by PID whatever happens. */
export class StartedProcesses {
  private readonly children: ChildProcess[] = [];
  private readonly grandchildren: Array<{ pid: number; comm: string }> = [];

  /** `logPrefix` starts the lines written to stderr ("bench", "ramp"). */
  constructor(private readonly logPrefix: string) {}

  /** Remembers a child to stop; returns it. */
  add<T extends ChildProcess>(child: T): T {
    this.children.push(child);
    return child;
  }

  /** Remembers a process a child started (Holdfast's redis-server), to stop if it outlives its parent. */
  addGrandchild(pid: number, comm: string): void {
    this.grandchildren.push({ pid, comm });
  }

  /** Stops every child by PID, the newest first: SIGTERM, then SIGKILL after a grace; then any grandchild left. */
  async stopAll(): Promise<void> {
    for (const child of [...this.children].reverse()) {
      if (!isRunning(child)) continue;
      child.kill('SIGTERM');
      if (!(await waitForExit(child, 40_000))) {
        process.stderr.write(`${this.logPrefix}: pid ${child.pid} did not stop on SIGTERM; SIGKILL\n`);
        child.kill('SIGKILL');
        await waitForExit(child, 5000);
      }
    }
    for (const { pid, comm } of this.grandchildren) await this.stopLeftover(pid, comm);
  }

  /** Its parent stops it itself; if it could not, stop it here (only if `pid` is still that process). */
  private async stopLeftover(pid: number, comm: string): Promise<void> {
    if (readProcStat(pid)?.comm !== comm) return;
    process.stderr.write(`${this.logPrefix}: ${comm} ${pid} still running; SIGTERM\n`);
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && readProcStat(pid) !== undefined; i++) await sleep(100);
    if (readProcStat(pid)?.comm === comm) process.kill(pid, 'SIGKILL');
  }
}

/**
 * Stops, by PID, every process whose command line names `dir` (the temp dir): what a child left
 * behind, e.g. an embedded redis-server that Holdfast restarted and that outlived it. SIGTERM, then
 * SIGKILL after 5 s.
 */
export async function stopProcessesNaming(dir: string, logPrefix: string): Promise<void> {
  const naming = () =>
    allProcesses()
      .filter((stat) => stat.state !== 'Z' && stat.pid !== process.pid)
      .map((stat) => stat.pid)
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
        } catch {
          return false;
        }
      });
  const left = naming();
  if (left.length === 0) return;
  process.stderr.write(`${logPrefix}: processes ${left.join(' ')} still use ${dir}; SIGTERM\n`);
  for (const pid of left) process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 50 && naming().length > 0; i++) await sleep(100);
  for (const pid of naming()) process.kill(pid, 'SIGKILL');
}

/** Runs `main`, then `cleanUp` whatever happens: an error (exit code 1, after `onFailure`), SIGINT or SIGTERM (130). */
export async function runBenchmark(
  logPrefix: string,
  main: () => Promise<void>,
  handlers: { onFailure: () => void; cleanUp: () => Promise<void> },
): Promise<void> {
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      process.stderr.write(`${logPrefix}: ${signal}, stopping\n`);
      void handlers.cleanUp().finally(() => process.exit(130));
    });
  }
  try {
    await main();
  } catch (error) {
    process.exitCode = 1;
    process.stderr.write(
      `${logPrefix}: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    handlers.onFailure();
  } finally {
    if (!interrupted) await handlers.cleanUp();
  }
}

// ---------------------------------------------------------------- temp dir and ports

/** A new temp dir for the config, the Holdfast log and the embedded Redis; `name` starts its name. */
export function makeTempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), name));
}

/** Removes the temp dir, unless BENCH_KEEP=1 (then it says where it is). */
export function removeTempDir(dir: string, logPrefix: string): void {
  if (process.env.BENCH_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
  else process.stderr.write(`${logPrefix}: kept ${dir}\n`);
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (typeof address !== 'object' || !address) throw new Error('no free port');
  return address.port;
}

// ---------------------------------------------------------------- the counting LMTP sink

export interface SinkStats {
  messages: number;
  recipients: number;
  bytes: number;
  firstAt: number | null;
  lastAt: number | null;
}

/** bench/lmtp-sink.ts as a child process, and its HTTP counters. */
export class Sink {
  constructor(
    readonly pid: number,
    readonly lmtpPort: number,
    private readonly httpPort: number,
  ) {}

  /** Starts the sink on free ports and waits until it says which. */
  static async start(processes: StartedProcesses): Promise<Sink> {
    const child = processes.add(
      spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'bench/lmtp-sink.ts'), '0', '0'], {
        cwd: repoRoot,
        detached: OWN_PROCESS_GROUP,
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    const line = await new Promise<string>((done, fail) => {
      let text = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('\n')) done(text.split('\n')[0]!);
      });
      child.once('exit', (code) => fail(new Error(`sink exited with ${code}`)));
    });
    const ports = JSON.parse(line) as { lmtpPort: number; httpPort: number };
    return new Sink(child.pid!, ports.lmtpPort, ports.httpPort);
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

// ---------------------------------------------------------------- Holdfast

export interface BenchConfig {
  /** Which script wrote the config, for its first line. */
  writtenBy: string;
  /** The SMTP listener's port on 127.0.0.1. */
  port: number;
  sinkPort: number;
  /** limits.connections.perIp: all the load comes from 127.0.0.1. */
  perIp: number;
  /** The one mailstore, LMTP to the sink; domain example.com goes to it. */
  mailstore: string;
  concurrency: number;
  ramp?: { startRate: number; startConcurrency: number; step: string; ceiling: number };
}

/** Writes DIR/holdfast.yaml (the embedded Redis in DIR/redis, log level info) and returns its path. */
function writeHoldfastConfig(dir: string, config: BenchConfig): string {
  const path = join(dir, 'holdfast.yaml');
  const ramp = config.ramp
    ? `    ramp:
      startRate: ${config.ramp.startRate}
      startConcurrency: ${config.ramp.startConcurrency}
      step: ${config.ramp.step}
      ceiling: ${config.ramp.ceiling}
`
    : '';
  writeFileSync(
    path,
    `# ${config.writtenBy}
listener:
  host: 127.0.0.1
  port: ${config.port}
  hostname: mx.bench.test
limits:
  connections:
    perIp: ${config.perIp} # all the load comes from 127.0.0.1
domains:
  example.com:
    mailstore: ${config.mailstore}
    rejectUnknownUsers: false
mailstores:
  ${config.mailstore}:
    endpoints: ['127.0.0.1:${config.sinkPort}']
    protocol: lmtp
    concurrency: ${config.concurrency}
${ramp}redis:
  embedded:
    dir: ${join(dir, 'redis')}
log:
  level: info
`,
  );
  return path;
}

/** Starts `node bin/holdfast.js start -c CONFIG`, its output to `logPath`, and waits (30 s at most) until it is ready. */
export async function startHoldfast(
  processes: StartedProcesses,
  configPath: string,
  logPath: string,
  port: number,
): Promise<ChildProcess> {
  const log = openSync(logPath, 'a');
  const child = processes.add(
    // BENCH_PROFILE=DIR: Holdfast writes a V8 CPU profile there when it stops (node --cpu-prof).
    spawn(process.execPath, [...profileArguments(), join(repoRoot, 'bin/holdfast.js'), 'start', '-c', configPath], {
      cwd: repoRoot,
      detached: OWN_PROCESS_GROUP,
      stdio: ['ignore', log, log],
    }),
  );
  closeSync(log);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (!isRunning(child))
      throw new Error(`holdfast exited (${child.exitCode}); log:\n${readFileSync(logPath, 'utf8')}`);
    if (readFileSync(logPath, 'utf8').includes('"msg":"ready"')) return child;
    await sleep(100);
  }
  throw new Error(`holdfast not ready on port ${port} within 30 s; log:\n${readFileSync(logPath, 'utf8')}`);
}

/** Where Holdfast's log goes in the temp dir. */
export function holdfastLogPath(dir: string): string {
  return join(dir, 'holdfast.log');
}

export interface SystemUnderTest {
  sink: Sink;
  /** Holdfast's SMTP port on 127.0.0.1. */
  port: number;
  configPath: string;
  holdfast: ChildProcess;
  /** Holdfast's embedded redis-server (stopped with the children if it outlives Holdfast). */
  redisPid: number | undefined;
}

/** Starts the sink, then Holdfast on a free port with a config in `dir` for it (`config` without the ports). */
export async function startSinkAndHoldfast(
  processes: StartedProcesses,
  dir: string,
  config: Omit<BenchConfig, 'port' | 'sinkPort'>,
): Promise<SystemUnderTest> {
  const sink = await Sink.start(processes);
  const port = await freePort();
  const configPath = writeHoldfastConfig(dir, { ...config, port, sinkPort: sink.lmtpPort });
  const holdfast = await startHoldfast(processes, configPath, holdfastLogPath(dir), port);
  const redisPid = findChildPid(holdfast.pid!, 'redis-server');
  if (redisPid !== undefined) processes.addGrandchild(redisPid, 'redis-server');
  return { sink, port, configPath, holdfast, redisPid };
}

/** Runs `node bin/holdfast.js ARGS -c CONFIG` and returns its stdout (fails on a non-zero exit). */
export function holdfastCli(processes: StartedProcesses, configPath: string, ...args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    const child = execFile(
      process.execPath,
      [join(repoRoot, 'bin/holdfast.js'), ...args, '-c', configPath],
      { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error) fail(new Error(`holdfast ${args.join(' ')}: ${error.message}\n${stderr}`));
        else done(stdout);
      },
    );
    processes.add(child);
  });
}

export interface HoldfastLogSummary {
  lines: number;
  queued: number;
  byLevel: Record<string, number>;
  /** Mailstore state changes ("MailstoreState" events, logged at warn on purpose). */
  stateChanges: number;
  /** When each "delivered" line was written (epoch ms). */
  deliveredAt: number[];
  /** Attempts that were not accepted ("Delivery" events with another category). */
  notAccepted: number;
  /** Lines above info other than the state changes, and lines that are not JSON. */
  problems: string[];
}

/** A file's lines, read a megabyte at a time: a long bench's log passes what one string can hold (512 MB). */
function* fileLines(path: string): Generator<string> {
  const fd = openSync(path, 'r');
  const chunk = Buffer.alloc(1 << 20);
  // A character cut in two by a chunk's end is completed by the next.
  const decoder = new StringDecoder('utf8');
  let rest = '';
  try {
    for (let read = readSync(fd, chunk); read > 0; read = readSync(fd, chunk)) {
      const lines = (rest + decoder.write(chunk.subarray(0, read))).split('\n');
      rest = lines.pop()!;
      yield* lines;
    }
    if (rest) yield rest;
  } finally {
    closeSync(fd);
  }
}

/** Reads the Holdfast log (pino JSON lines) and counts what the reports show. */
export function summarizeHoldfastLog(path: string): HoldfastLogSummary {
  const summary: HoldfastLogSummary = {
    lines: 0,
    queued: 0,
    byLevel: {},
    stateChanges: 0,
    deliveredAt: [],
    notAccepted: 0,
    problems: [],
  };
  for (const line of fileLines(path)) {
    if (!line.trim()) continue;
    summary.lines++;
    let entry: { level?: string; msg?: string; event?: string; time?: string; category?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      summary.problems.push(line);
      continue;
    }
    const level = entry.level ?? '?';
    summary.byLevel[level] = (summary.byLevel[level] ?? 0) + 1;
    if (entry.msg === 'message queued') summary.queued++;
    if (entry.event === 'Delivery' && entry.category === 'accepted')
      summary.deliveredAt.push(Date.parse(entry.time ?? ''));
    else if (entry.event === 'Delivery') summary.notAccepted++;
    if (entry.event === 'MailstoreState') summary.stateChanges++;
    else if (level !== 'info' && level !== 'debug' && level !== 'trace') summary.problems.push(line);
  }
  return summary;
}

/** After a failure: writes the first 20 log lines above info to stderr; returns how many there are (0 without a log). */
export function printLogProblems(logPath: string): number {
  if (!existsSync(logPath)) return 0;
  const problems = summarizeHoldfastLog(logPath).problems;
  if (problems.length > 0)
    process.stderr.write(`Holdfast log lines above info:\n  ${problems.slice(0, 20).join('\n  ')}\n`);
  return problems.length;
}

// ---------------------------------------------------------------- the load generator

export interface SmtpSourceLoad {
  /** The smtp-source binary. */
  binary: string;
  port: number;
  sessions: number;
  messages: number;
  size: number;
  from: string;
  to: string;
  /** smtp-source -d: keep the connection for the next message (else one connection per message). */
  reuseConnections: boolean;
}

/** The smtp-source arguments for `load`. */
export function smtpSourceArgs(load: SmtpSourceLoad): string[] {
  return [
    ...(load.reuseConnections ? ['-d'] : []),
    ...['-s', String(load.sessions), '-m', String(load.messages), '-l', String(load.size)],
    ...['-f', load.from, '-t', load.to, `127.0.0.1:${load.port}`],
  ];
}

/** Runs smtp-source until it exits (fails on a non-zero exit); returns when it started and how long it took. */
export async function runSmtpSource(
  processes: StartedProcesses,
  load: SmtpSourceLoad,
): Promise<{ wallMs: number; startAt: number }> {
  const startAt = Date.now();
  const begin = performance.now();
  const child = processes.add(
    spawn(load.binary, smtpSourceArgs(load), { detached: OWN_PROCESS_GROUP, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((done) => child.once('exit', (exitCode) => done(exitCode)));
  const wallMs = performance.now() - begin;
  if (code !== 0) throw new Error(`smtp-source exited with ${code}: ${output.trim()}`);
  if (output.trim()) process.stderr.write(`smtp-source: ${output.trim()}\n`);
  return { wallMs, startAt };
}

function profileArguments(): string[] {
  const directory = process.env.BENCH_PROFILE;
  return directory ? ['--cpu-prof', `--cpu-prof-dir=${directory}`] : [];
}

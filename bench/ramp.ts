// Measures the paced release ramp (docs/operations.md, "The paced release").
//
//   npm run build && npx tsx bench/ramp.ts
//
// It makes a temp dir with a config (listener on a free port on 127.0.0.1, domain example.com with
// rejectUnknownUsers false on one mailstore "sink": LMTP to the counting sink bench/lmtp-sink.ts,
// concurrency 16, ramp { startRate: 5, startConcurrency: 2, step: 5s, ceiling: 400 }; the embedded
// Redis in the temp dir; limits.connections.perIp 1000; log level info to a file), starts the sink
// and `node bin/holdfast.js start -c CONFIG` as child processes, then:
//   1. `holdfast hold sink --reason bench`; loads RAMP_MESSAGES (3,000) messages of 5 KB with
//      `smtp-source -d -s 20 -m 3000 -l 5120 -f bench@example.org -t user@example.com 127.0.0.1:PORT`;
//      checks that the sink got none and that `holdfast status --json` shows them all waiting;
//   2. `holdfast release sink`, then every second until all are delivered (and the store is open
//      again, or 15 s after the last delivery): the sink's count (delivered in that second, total)
//      and the store's state and pace from `holdfast status --json` (state.kind, state.rate,
//      state.concurrency). The sink is also polled every 200 ms for the per-step figures;
//   3. prints the per-second table, `holdfast audit -n 20` (the ramp steps), and a summary: time to
//      deliver all, and per ramp step (its start and end taken from the audit trail) the configured
//      rate limit and concurrency vs the measured delivered/s.
// Then it stops every child by PID and removes the temp dir (BENCH_KEEP=1 keeps it and its log).
//
// Settings (environment): RAMP_MESSAGES=3000 RAMP_SIZE=5120 RAMP_SESSIONS=20 RAMP_STEP=5s
// RAMP_START_RATE=5 RAMP_START_CONCURRENCY=2 RAMP_CEILING=400 RAMP_CONCURRENCY=16
// SMTP_SOURCE=/usr/sbin/smtp-source BENCH_JSON=FILE (also write the figures as JSON) BENCH_KEEP=1
// BENCH_QUIET_WAIT=120 (before the release, wait up to this many seconds for the machine to be below
// 25% of one core busy).
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  StartedProcesses,
  buildInfo,
  checkPrerequisites,
  describeBuild,
  fixed,
  holdfastCli,
  holdfastLogPath,
  machineBusyMs,
  makeTempDir,
  numberSetting,
  printLogProblems,
  processCpuMs,
  removeTempDir,
  runBenchmark,
  runSmtpSource,
  smtpSourceArgs,
  startSinkAndHoldfast,
  summarizeHoldfastLog,
  waitForQuietMachine,
  type SmtpSourceLoad,
} from './lib.js';

const settings = {
  messages: numberSetting('RAMP_MESSAGES', 3000),
  size: numberSetting('RAMP_SIZE', 5120),
  sessions: numberSetting('RAMP_SESSIONS', 20),
  step: process.env.RAMP_STEP ?? '5s',
  startRate: numberSetting('RAMP_START_RATE', 5),
  startConcurrency: numberSetting('RAMP_START_CONCURRENCY', 2),
  ceiling: numberSetting('RAMP_CEILING', 400),
  concurrency: numberSetting('RAMP_CONCURRENCY', 16),
  quietWaitS: numberSetting('BENCH_QUIET_WAIT', 120),
  smtpSource: process.env.SMTP_SOURCE ?? '/usr/sbin/smtp-source',
  from: 'bench@example.org',
  to: 'user@example.com',
};

const STORE = 'sink';

const processes = new StartedProcesses('ramp');
let tempDir: string | undefined;

/** Stops every child by PID (the redis-server grandchild too) and removes the temp dir. */
async function cleanUp(): Promise<void> {
  await processes.stopAll();
  if (tempDir) removeTempDir(tempDir, 'ramp');
}

/** Loads the held store: smtp-source -d with the ramp's messages; returns how long it took (ms). */
async function loadMessages(port: number): Promise<number> {
  const load: SmtpSourceLoad = {
    binary: settings.smtpSource,
    port,
    sessions: settings.sessions,
    messages: settings.messages,
    size: settings.size,
    from: settings.from,
    to: settings.to,
    reuseConnections: true,
  };
  process.stderr.write(`ramp: ${settings.smtpSource} ${smtpSourceArgs(load).join(' ')}\n`);
  return (await runSmtpSource(processes, load)).wallMs;
}

// ---------------------------------------------------------------- Holdfast's view

interface StoreState {
  kind: string;
  rate?: number;
  concurrency?: number;
  nextStepAt?: number;
}

interface StoreStatus {
  mailstore: string;
  state: StoreState;
  counts: { waiting: number; active: number; delayed: number; failed: number; completed: number };
}

interface AuditEntry {
  at: number;
  mailstore?: string;
  action: string;
  by: string;
  reason: string;
  from?: string;
  to?: string;
}

async function storeStatus(configPath: string): Promise<StoreStatus> {
  const statuses = JSON.parse(await holdfastCli(processes, configPath, 'status', '--json')) as StoreStatus[];
  const status = statuses.find((entry) => entry.mailstore === STORE);
  if (!status) throw new Error(`holdfast status shows no mailstore ${STORE}`);
  return status;
}

// ---------------------------------------------------------------- measurement

interface Sample {
  /** ms since the release command returned. */
  t: number;
  delivered: number;
}

interface Row {
  second: number;
  deliveredInSecond: number;
  delivered: number;
  state?: StoreState;
  /** Jobs active (being delivered) when the status command asked. */
  active?: number;
  /** How old the state shown is when the row is printed: the status command runs in parallel. */
  statusAt?: number;
}

/** The delivered count at time t (ms since release), linearly interpolated between samples. */
function deliveredAt(samples: Sample[], t: number): number {
  let before = samples[0]!;
  for (const sample of samples) {
    if (sample.t >= t) {
      if (sample.t === before.t) return sample.delivered;
      return before.delivered + ((sample.delivered - before.delivered) * (t - before.t)) / (sample.t - before.t);
    }
    before = sample;
  }
  return before.delivered;
}

interface StepFigures {
  step: number;
  /** ms since release. */
  from: number;
  to: number;
  rate: number;
  concurrency: number;
  delivered: number;
  measuredRate: number;
  /** The median of the whole seconds (1 s sampling) inside the step: the steady rate. */
  medianSecond: number;
  /** The busiest whole second (1 s sampling) inside the step. */
  peakSecond: number;
  /** The most deliveries between two 200 ms sink samples inside the step (the limiter's bursts). */
  peak200ms: number;
  /** Deliveries per the Holdfast log ("delivered" lines) within the step. */
  loggedDelivered: number;
  ended: string;
}

async function main(): Promise<void> {
  checkPrerequisites(settings.smtpSource);
  const build = buildInfo();
  process.stderr.write(`ramp: ${describeBuild(build)}\n`);
  tempDir = makeTempDir('holdfast-ramp-');
  const logPath = holdfastLogPath(tempDir);

  const { sink, port, configPath, holdfast, redisPid } = await startSinkAndHoldfast(processes, tempDir, {
    writtenBy: 'Holdfast ramp benchmark config (written by bench/ramp.ts)',
    perIp: 1000,
    mailstore: STORE,
    concurrency: settings.concurrency,
    ramp: {
      startRate: settings.startRate,
      startConcurrency: settings.startConcurrency,
      step: settings.step,
      ceiling: settings.ceiling,
    },
  });
  process.stderr.write(
    `ramp: holdfast pid ${holdfast.pid}, redis-server pid ${redisPid}, sink pid ${sink.pid}; ` +
      `temp dir ${tempDir}, smtp port ${port}, sink port ${sink.lmtpPort}\n`,
  );

  // 1. Hold, load, check.
  process.stderr.write(
    `ramp: ${(await holdfastCli(processes, configPath, 'hold', STORE, '--reason', 'bench')).trim()}\n`,
  );
  const loadMs = await loadMessages(port);
  process.stderr.write(`ramp: ${settings.messages} messages sent in ${fixed(loadMs / 1000, 2)} s\n`);
  let held = await storeStatus(configPath);
  for (let i = 0; i < 50 && held.counts.waiting < settings.messages; i++) {
    await sleep(100);
    held = await storeStatus(configPath);
  }
  const sinkBefore = (await sink.stats()).messages;
  process.stderr.write(
    `ramp: before the release: sink ${sinkBefore}, store ${held.state.kind}, waiting ${held.counts.waiting}, ` +
      `active ${held.counts.active}, deferred ${held.counts.delayed}, failed ${held.counts.failed}\n`,
  );
  if (sinkBefore !== 0) throw new Error(`the sink got ${sinkBefore} messages while the store was held`);
  if (held.state.kind !== 'held') throw new Error(`the store is ${held.state.kind}, not held`);
  if (held.counts.waiting !== settings.messages)
    throw new Error(`${held.counts.waiting} waiting, not ${settings.messages}`);

  const quietShare = await waitForQuietMachine('ramp', settings.quietWaitS);
  const busy0 = machineBusyMs();
  const ourCpu0 = processCpuMs(holdfast.pid) + processCpuMs(redisPid);

  // 2. Release and sample.
  const releaseStart = Date.now();
  const releaseOutput = (await holdfastCli(processes, configPath, 'release', STORE)).trim();
  const t0 = Date.now();
  process.stderr.write(`ramp: ${releaseOutput} (the command took ${t0 - releaseStart} ms)\n`);

  const samples: Sample[] = [{ t: 0, delivered: 0 }];
  const rows: Row[] = [];
  let latestState: { state: StoreState; active: number; at: number } | undefined;
  let statusRunning = false;
  const statusLatencies: number[] = [];
  let statusErrors = 0;
  let allDeliveredAt: number | undefined;
  let lastProgressAt = 0;
  for (let tick = 1; ; tick++) {
    const due = t0 + tick * 200;
    await sleep(Math.max(0, due - Date.now()));
    const stats = await sink.stats();
    const t = Date.now() - t0;
    samples.push({ t, delivered: stats.messages });
    if (stats.messages !== samples[samples.length - 2]!.delivered) lastProgressAt = t;
    if (allDeliveredAt === undefined && stats.messages >= settings.messages)
      allDeliveredAt = (stats.lastAt ?? Date.now()) - t0;
    if (tick % 5 !== 0) continue;
    // Once a second: a row, and the store's state (the status command runs alongside; a row shows
    // the newest state that had arrived by then).
    if (!statusRunning) {
      statusRunning = true;
      const asked = Date.now();
      void storeStatus(configPath)
        .then((status) => {
          statusLatencies.push(Date.now() - asked);
          latestState = { state: status.state, active: status.counts.active, at: asked - t0 };
        })
        .catch((error: unknown) => {
          statusErrors++;
          process.stderr.write(`ramp: status failed: ${error instanceof Error ? error.message : String(error)}\n`);
        })
        .finally(() => (statusRunning = false));
    }
    const previous = rows.at(-1)?.delivered ?? 0;
    const row: Row = {
      second: tick / 5,
      deliveredInSecond: stats.messages - previous,
      delivered: stats.messages,
      state: latestState?.state,
      active: latestState?.active,
      statusAt: latestState?.at,
    };
    rows.push(row);
    process.stderr.write(`ramp: ${formatRow(row)}\n`);
    if (allDeliveredAt !== undefined) {
      if (latestState?.state.kind === 'open' || t - allDeliveredAt > 15_000) break;
    } else if (t - lastProgressAt > 60_000) {
      throw new Error(`no delivery for 60 s, ${stats.messages} of ${settings.messages} delivered`);
    }
  }
  while (statusRunning) await sleep(50);
  const busyShare = (machineBusyMs() - busy0) / (Date.now() - t0);
  const ourCpuShare = (processCpuMs(holdfast.pid) + processCpuMs(redisPid) - ourCpu0) / (Date.now() - t0);
  await sleep(1000);
  const finalSink = await sink.stats();
  const finalStatus = await storeStatus(configPath);

  // 3. Report.
  const auditText = await holdfastCli(processes, configPath, 'audit', '-n', '20');
  const audit = (JSON.parse(await holdfastCli(processes, configPath, 'audit', '-n', '50', '--json')) as AuditEntry[])
    .filter((entry) => entry.mailstore === STORE && entry.at >= releaseStart - 1000)
    .sort((a, b) => a.at - b.at);
  const log = summarizeHoldfastLog(logPath);
  const steps = stepFigures(audit, samples, rows, log.deliveredAt, t0, allDeliveredAt ?? Number.NaN);
  const buildAfter = buildInfo();

  const header = 'second  delivered  total  state       rate limit  concurrency  active  (state asked at)';
  const out: string[] = [];
  out.push(
    `\nHoldfast paced release: ${cpus().length} x ${cpus()[0]?.model ?? '?'}; ${settings.messages} x ${settings.size} B; ` +
      `ramp startRate ${settings.startRate}, startConcurrency ${settings.startConcurrency}, step ${settings.step}, ` +
      `ceiling ${settings.ceiling}; store concurrency ${settings.concurrency}\n`,
  );
  out.push(
    'Per second since the release returned (state, pace and active jobs: the newest `holdfast status --json` answer by then):',
  );
  out.push(header, ...rows.map(formatRow));
  out.push(`\n$ holdfast audit -n 20\n${auditText.trimEnd()}\n`);
  out.push(
    'Per ramp step (start and end from the audit trail, in s since the release returned; "delivered" and "measured/s"\n' +
      'from the sink, polled every 200 ms, "(log)" from the "delivered" log lines; median, peak 1 s: over the whole\n' +
      'seconds of the table inside the step; peak 200 ms: the most between two sink polls):',
  );
  out.push(
    'step  from-to (s)  rate limit  concurrency  delivered  (log)  measured/s  median 1 s  peak 1 s  peak 200 ms  ended by',
  );
  for (const step of steps) {
    out.push(
      [
        String(step.step).padStart(4),
        `${fixed(step.from / 1000)}-${fixed(step.to / 1000)}`.padStart(11),
        String(step.rate).padStart(10),
        String(step.concurrency).padStart(11),
        String(step.delivered).padStart(9),
        String(step.loggedDelivered).padStart(5),
        fixed(step.measuredRate).padStart(10),
        fixed(step.medianSecond, 0).padStart(9),
        String(step.peakSecond).padStart(8),
        String(step.peak200ms).padStart(11),
        ` ${step.ended}`,
      ].join('  '),
    );
  }
  const near = (measured: number, limit: number) => Math.abs(measured / limit - 1) <= 0.1;
  const full = steps.filter((step) => step.ended === 'ramp' || step.ended === 'open');
  const fullWithin = full.filter((step) => near(step.measuredRate, step.rate));
  const withSeconds = steps.filter((step) => Number.isFinite(step.medianSecond));
  const medianWithin = withSeconds.filter((step) => near(step.medianSecond, step.rate));
  const firstSample = samples.find((sample) => sample.delivered > 0);
  const release = audit.find((entry) => entry.action === 'release');
  const firstSecond = release
    ? log.deliveredAt.filter((at) => at >= release.at && at < release.at + 1000).length
    : Number.NaN;
  const intervals = audit.slice(1).map((entry, index) => entry.at - audit[index]!.at);
  const stepIntervals = intervals.filter((_, index) => audit[index]!.action !== 'hold');
  out.push(
    `\nSummary:\n` +
      `  release command took ${t0 - releaseStart} ms; first delivery seen ${firstSample ? fixed(firstSample.t / 1000) : 'n/a'} s after it returned; ` +
      `${firstSecond} delivered (log) in the first 1000 ms after the release was stored (limit ${settings.startRate}/s)\n` +
      `  all ${settings.messages} delivered ${fixed((allDeliveredAt ?? Number.NaN) / 1000, 2)} s after the release returned ` +
      `(sink count at the end ${finalSink.messages}, "delivered" log lines ${log.deliveredAt.length}, not accepted ${log.notAccepted}; ` +
      `${finalSink.messages === settings.messages ? 'none missing, no duplicates' : 'MISMATCH'})\n` +
      `  rate reached per step (limit -> measured over the step / median second): ` +
      `${steps.map((step) => `${step.rate} -> ${fixed(step.measuredRate, 1)} / ${fixed(step.medianSecond, 0)}`).join(', ')} msgs/s\n` +
      `  tracking (within 10% of the limit): measured/s over the step in ${fullWithin.length} of ${full.length} full steps; ` +
      `median second in ${medianWithin.length} of ${withSeconds.length} steps\n` +
      `  time between state changes (configured step ${settings.step}): ` +
      `${stepIntervals.map((ms) => fixed(ms / 1000, 2)).join(', ')} s\n` +
      `  store state at the end: ${finalStatus.state.kind}; waiting ${finalStatus.counts.waiting}, active ${finalStatus.counts.active}, ` +
      `deferred ${finalStatus.counts.delayed}, failed ${finalStatus.counts.failed}\n` +
      `  status command: ${statusLatencies.length} answers, median ${fixed(median(statusLatencies), 0)} ms, max ${fixed(Math.max(...statusLatencies), 0)} ms` +
      `${statusErrors ? `, ${statusErrors} failed` : ''}\n` +
      `  CPU during the release: holdfast + its redis-server ${fixed(ourCpuShare * 100, 0)}% of one core; machine busy ` +
      `${fixed(busyShare * 100, 0)}% of ${cpus().length * 100}% (the status commands included; before the release: ${fixed(quietShare * 100, 0)}%)\n` +
      `  load: smtp-source took ${fixed(loadMs / 1000, 2)} s for ${settings.messages} messages\n` +
      `  holdfast log: ${log.lines} lines, ${log.queued} "message queued", ${log.stateChanges} state changes (warn), ` +
      `${log.problems.length} other lines above info\n` +
      `  build: ${describeBuild(build, buildAfter)}\n` +
      `  date: ${new Date(releaseStart).toISOString()}`,
  );
  if (log.problems.length > 0) out.push(`Log lines above info:\n  ${log.problems.slice(0, 20).join('\n  ')}`);
  process.stdout.write(`${out.join('\n')}\n`);
  if (process.env.BENCH_JSON) {
    const figures = {
      settings,
      build,
      releaseStart,
      t0,
      allDeliveredAt,
      firstSecond,
      rows,
      steps,
      audit,
      samples,
      log: { ...log, deliveredAt: undefined },
      busyShare,
      ourCpuShare,
    };
    writeFileSync(process.env.BENCH_JSON, `${JSON.stringify(figures, null, 2)}\n`);
  }
}

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function formatRow(row: Row): string {
  const state = row.state;
  const rate = state?.kind === 'releasing' ? String(state.rate) : state?.kind === 'open' ? 'none' : '-';
  const concurrency = state?.kind === 'releasing' ? String(state.concurrency) : state?.kind === 'open' ? 'store' : '-';
  return [
    fixed(row.second, 0).padStart(6),
    String(row.deliveredInSecond).padStart(9),
    String(row.delivered).padStart(5),
    (state?.kind ?? '?').padEnd(10),
    rate.padStart(10),
    concurrency.padStart(11),
    (row.active === undefined ? '-' : String(row.active)).padStart(6),
    row.statusAt === undefined ? '' : `(${fixed(row.statusAt / 1000)} s)`.padStart(16),
  ].join('  ');
}

/**
 * The ramp's steps from the audit trail (release, then each "ramp" entry; "open" ends the last),
 * with the deliveries the sink counted during each.
 */
function stepFigures(
  audit: AuditEntry[],
  samples: Sample[],
  rows: Row[],
  deliveredTimes: number[],
  t0: number,
  allDeliveredAt: number,
): StepFigures[] {
  const paceOf = (entry: AuditEntry): { rate: number; concurrency: number } | undefined => {
    const match = /^(\d+(?:\.\d+)?) msgs\/s, (\d+) connections/.exec(entry.reason);
    if (match) return { rate: Number(match[1]), concurrency: Number(match[2]) };
    if (entry.action === 'release') return { rate: settings.startRate, concurrency: settings.startConcurrency };
    return undefined;
  };
  const end = samples.at(-1)!.t;
  const starts = audit.filter((entry) => entry.action === 'release' || entry.action === 'ramp');
  const steps: StepFigures[] = [];
  starts.forEach((entry, index) => {
    const pace = paceOf(entry);
    if (!pace) return;
    const following = audit.find((other) => other.at > entry.at && other.action !== 'hold');
    // The release's own moment is when its command returned (it enforces the pace before that).
    const from = entry.action === 'release' ? 0 : Math.max(0, entry.at - t0);
    const to = following ? following.at - t0 : end;
    const ended =
      following?.action === 'open' ? 'open' : following ? `ramp` : index === starts.length - 1 ? 'last' : '?';
    const until = Math.min(to, Number.isFinite(allDeliveredAt) ? allDeliveredAt : to, end);
    const delivered = Math.round(deliveredAt(samples, until) - deliveredAt(samples, from));
    const wholeSeconds = rows.filter((row) => row.second * 1000 - 1000 >= from && row.second * 1000 <= until);
    steps.push({
      step: steps.length + 1,
      from,
      to,
      rate: pace.rate,
      concurrency: pace.concurrency,
      delivered,
      measuredRate: until > from ? (delivered * 1000) / (until - from) : Number.NaN,
      medianSecond: median(wholeSeconds.map((row) => row.deliveredInSecond)),
      peakSecond: Math.max(0, ...wholeSeconds.map((row) => row.deliveredInSecond)),
      peak200ms: Math.max(
        0,
        ...samples
          .slice(1)
          .map((sample, i) =>
            samples[i]!.t >= from && sample.t <= until ? sample.delivered - samples[i]!.delivered : 0,
          ),
      ),
      loggedDelivered: deliveredTimes.filter((at) => at - t0 >= from && at - t0 < to).length,
      ended: until < to ? `queue empty at ${fixed(until / 1000)} s, then ${ended}` : ended,
    });
  });
  return steps;
}

await runBenchmark('ramp', main, {
  onFailure: () => {
    if (tempDir) printLogProblems(holdfastLogPath(tempDir));
  },
  cleanUp,
});

// Holdfast's throughput, latency, CPU and memory, side by side with Postfix doing the same job on
// the same machine, in one run.
//
//   npm run bench                  (builds, then tsx bench/run.ts; the Postfix part needs root)
//
// It makes a temp dir and starts, as child processes, the counting LMTP sink (bench/lmtp-sink.ts)
// and `node bin/holdfast.js start -c CONFIG` (listener on a free port, domain example.com with
// rejectUnknownUsers false, one mailstore "sink" at concurrency 20, the embedded Redis with
// appendfsync always in the temp dir); then Postfix as the same inbound relay, its own instance in
// the temp dir delivering to the same sink over LMTP (bench/postfix.ts). After a warm-up of each
// relay (BENCH_WARMUP messages, not measured), for each message size and each number of sessions,
// first against Holdfast and then against Postfix (bench/relay-pass.ts):
//   1. throughput: smtp-source -s SESSIONS -m MESSAGES -l SIZE -f bench@example.org
//      -t user@example.com [-d] 127.0.0.1:PORT; accepted msgs/s = messages / smtp-source wall time,
//      delivered msgs/s = messages / (last delivery at the sink - start of sending); CPU of the
//      relay's whole process tree (bench/process-tree.ts) until the last delivery; peak memory;
//   2. latency: bench/smtp-latency.ts, SESSIONS connections each sending MESSAGES / SESSIONS
//      messages one after the other; the time from the final "." to the 250.
// It prints one table per size (Holdfast, Postfix, Holdfast/Postfix), then stops Postfix and every
// child by PID and removes the temp dir (BENCH_KEEP=1 keeps it, with both relays' logs).
//
// Settings (environment): BENCH_PEER=postfix|none (none: Holdfast alone) BENCH_SIZES=5120,102400
// BENCH_SESSIONS=1,20,100 BENCH_MESSAGES=N (smtp-source -m of every pass; default: see passMessages
// in bench/relay-pass.ts) BENCH_QUICK=1 (a tenth of the messages, to check the bench works)
// BENCH_WARMUP=200 BENCH_REUSE=1 (smtp-source -d: keep the connection for the next message; default
// is one connection per message) BENCH_PER_IP=1000 (Holdfast's limits.connections.perIp; all load
// comes from 127.0.0.1) SMTP_SOURCE=/usr/sbin/smtp-source BENCH_JSON=FILE (also write the figures as
// JSON) BENCH_KEEP=1 BENCH_PROFILE=DIR (Holdfast writes a V8 CPU profile into DIR when it stops)
// BENCH_QUIET_WAIT=600 (before each pass, wait up to this many seconds for the machine to be below
// 25% of one core busy: other processes, e.g. test runs, skew the figures on a small box).
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CellResult, comparisonTable, passLines, ratios } from './compare-report.js';
import {
  StartedProcesses,
  buildInfo,
  checkPrerequisites,
  describeBuild,
  freePort,
  holdfastLogPath,
  listSetting,
  makeTempDir,
  numberSetting,
  printLogProblems,
  removeTempDir,
  runBenchmark,
  runSmtpSource,
  startSinkAndHoldfast,
  stopProcessesNaming,
  summarizeHoldfastLog,
} from './lib.js';
import { PostfixInstance, postfixVersion } from './postfix.js';
import { allProcesses } from './process-tree.js';
import { type PassContext, type Relay, measureCell, passMessages } from './relay-pass.js';

const quick = process.env.BENCH_QUICK === '1';
const peer = process.env.BENCH_PEER ?? 'postfix';
if (peer !== 'postfix' && peer !== 'none') throw new Error('BENCH_PEER must be postfix or none');

const settings = {
  peer,
  sizes: listSetting('BENCH_SIZES', [5120, 102_400]),
  sessions: listSetting('BENCH_SESSIONS', [1, 20, 100]),
  messages: process.env.BENCH_MESSAGES ? numberSetting('BENCH_MESSAGES', 0) : undefined,
  quick,
  warmup: numberSetting('BENCH_WARMUP', quick ? 50 : 200),
  perIp: numberSetting('BENCH_PER_IP', 1000),
  reuse: process.env.BENCH_REUSE === '1',
  quietWaitS: numberSetting('BENCH_QUIET_WAIT', 600),
  smtpSource: process.env.SMTP_SOURCE ?? '/usr/sbin/smtp-source',
  from: 'bench@example.org',
  to: 'user@example.com',
  /** Holdfast's mailstore concurrency, and Postfix's LMTP destination concurrency. */
  deliveryConcurrency: 20,
};

const processes = new StartedProcesses('bench');
let tempDir: string | undefined;
let postfix: PostfixInstance | undefined;
/** How many Holdfast log lines above info were already printed. */
let reportedProblems = 0;

/** Stops Postfix, every child and anything left using the temp dir, by PID; reports new log problems; removes the temp dir. */
async function cleanUp(): Promise<void> {
  await postfix?.stop();
  await processes.stopAll();
  if (!tempDir) return;
  await stopProcessesNaming(tempDir, 'bench');
  const logPath = holdfastLogPath(tempDir);
  if (existsSync(logPath)) {
    const problems = summarizeHoldfastLog(logPath).problems.slice(reportedProblems);
    if (problems.length > 0)
      process.stderr.write(`bench: new log lines above info at shutdown:\n  ${problems.join('\n  ')}\n`);
  }
  removeTempDir(tempDir, 'bench');
}

/** Sends `messages` through `relay` and waits until the sink has them; not measured. */
async function warmUp(context: PassContext, relay: Relay, messages: number): Promise<void> {
  process.stderr.write(`bench: ${relay.name} warm-up, ${messages} messages\n`);
  await runSmtpSource(processes, {
    binary: settings.smtpSource,
    port: relay.port,
    sessions: 20,
    messages,
    size: 5120,
    from: settings.from,
    to: settings.to,
    reuseConnections: settings.reuse,
  });
  await context.sink.waitFor(messages);
  await context.sink.reset();
}

async function startPostfix(dir: string, sinkPort: number): Promise<Relay> {
  // Postfix's daemons run as the postfix user: they must get through the temp dir (made 0700) to theirs.
  chmodSync(dir, 0o755);
  postfix = new PostfixInstance({
    dir: join(dir, 'postfix'),
    port: await freePort(),
    sinkPort,
    // One smtpd and one cleanup per session, with room for the ones still exiting.
    processLimit: Math.max(100, Math.ceil(Math.max(...settings.sessions) * 1.5)),
    lmtpConcurrency: settings.deliveryConcurrency,
  });
  await postfix.start();
  return { name: 'Postfix', port: postfix.settings.port, rootPid: postfix.masterPid!, peakRssPids: [] };
}

function printReport(results: CellResult[], header: string, footer: string): void {
  const peerName = settings.peer === 'postfix' ? 'Postfix' : undefined;
  const cores = cpus().length;
  let text = `\n${header}\n`;
  for (const size of settings.sizes) {
    const ofSize = results.filter((result) => result.size === size);
    text +=
      `\n${size} B payload (smtp-source -l ${size}), ` +
      `${settings.reuse ? 'connections reused (-d)' : 'one connection per message'}\n` +
      `${comparisonTable(ofSize, peerName)}\n\n`;
    for (const result of ofSize) {
      text += `${passLines(result, result.holdfast, cores)}\n`;
      if (result.peer) text += `${passLines(result, result.peer, cores)}\n`;
    }
  }
  process.stdout.write(`${text}\n${footer}`);
}

/** Holdfast's delivery processes (workers.processes, 1 by default): they start once the main process is ready. */
async function deliveryProcesses(holdfastPid: number): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const pids = allProcesses()
      .filter((stat) => stat.ppid === holdfastPid && stat.comm === 'node' && stat.state !== 'Z')
      .map((stat) => stat.pid);
    if (pids.length > 0 || Date.now() > deadline) return pids;
    await sleep(100);
  }
}

async function main(): Promise<void> {
  checkPrerequisites(settings.smtpSource);
  const build = buildInfo();
  process.stderr.write(`bench: ${describeBuild(build)}\n`);
  tempDir = makeTempDir('holdfast-bench-');

  const { sink, port, holdfast, redisPid } = await startSinkAndHoldfast(processes, tempDir, {
    writtenBy: 'Holdfast benchmark config (written by bench/run.ts)',
    perIp: settings.perIp,
    mailstore: 'sink',
    concurrency: settings.deliveryConcurrency,
  });
  if (redisPid === undefined) throw new Error(`no redis-server child of holdfast ${holdfast.pid}`);
  const deliveryPids = await deliveryProcesses(holdfast.pid!);
  const relays: Relay[] = [
    {
      name: 'Holdfast',
      port,
      rootPid: holdfast.pid!,
      peakRssPids: [holdfast.pid!, ...deliveryPids, redisPid],
      redisUrl: `unix://${join(tempDir, 'redis', 'redis.sock')}`,
    },
  ];
  if (settings.peer === 'postfix') relays.push(await startPostfix(tempDir, sink.lmtpPort));
  for (const relay of relays)
    process.stderr.write(`bench: ${relay.name} on port ${relay.port}, process tree under pid ${relay.rootPid}\n`);
  process.stderr.write(`bench: temp dir ${tempDir}, sink pid ${sink.pid} on port ${sink.lmtpPort}\n`);

  const context: PassContext = {
    processes,
    sink,
    smtpSource: settings.smtpSource,
    from: settings.from,
    to: settings.to,
    reuseConnections: settings.reuse,
    quietWaitS: settings.quietWaitS,
  };
  if (settings.warmup > 0) for (const relay of relays) await warmUp(context, relay, settings.warmup);

  const results: CellResult[] = [];
  for (const size of settings.sizes) {
    for (const sessions of settings.sessions) {
      const cell = { size, sessions, messages: settings.messages ?? passMessages(size, sessions, settings.quick) };
      const holdfastFigures = await measureCell(context, relays[0]!, cell);
      const peerFigures = relays[1] ? await measureCell(context, relays[1], cell) : undefined;
      results.push({ ...cell, holdfast: holdfastFigures, peer: peerFigures });
    }
  }

  const log = summarizeHoldfastLog(holdfastLogPath(tempDir));
  const buildAfter = buildInfo();
  const machine = { nproc: cpus().length, cpu: cpus()[0]?.model ?? '?' };
  const version = postfix ? await postfixVersion() : undefined;
  const postfixLog = postfix ? { sent: postfix.sentCount(), problems: postfix.logProblems() } : undefined;
  printReport(
    results,
    `Holdfast${postfix ? ` and Postfix ${version}` : ''}: ${machine.nproc} x ${machine.cpu}; ` +
      `${describeBuild(build, buildAfter)}`,
    `Holdfast log: ${log.lines} lines, ${log.queued} "message queued", levels ${JSON.stringify(log.byLevel)}` +
      `${log.stateChanges > 0 ? `, ${log.stateChanges} mailstore state changes (warn)` : ''}\n` +
      (postfixLog
        ? `Postfix log: ${postfixLog.sent} deliveries sent, ${postfixLog.problems.length} lines with warnings, ` +
          `rejects, deferred or bounced mail\n`
        : ''),
  );
  reportedProblems = log.problems.length;
  if (log.problems.length > 0) process.stdout.write(`Holdfast log lines above info:\n  ${log.problems.join('\n  ')}\n`);
  if (postfixLog && postfixLog.problems.length > 0)
    process.stdout.write(`Postfix log problems:\n  ${postfixLog.problems.slice(0, 20).join('\n  ')}\n`);

  if (process.env.BENCH_JSON) {
    const figures = {
      machine,
      settings,
      build: { ...build, distChangedDuringRun: buildAfter.distBuiltAt !== build.distBuiltAt },
      postfix: postfix ? { version, settings: postfix.settings, log: postfixLog } : undefined,
      cells: results.map((result) => ({ ...result, ratios: ratios(result) })),
      holdfastLog: { lines: log.lines, queued: log.queued, byLevel: log.byLevel, problems: log.problems.slice(0, 20) },
    };
    writeFileSync(process.env.BENCH_JSON, `${JSON.stringify(figures, null, 2)}\n`);
  }
}

await runBenchmark('bench', main, {
  onFailure: () => {
    if (tempDir) reportedProblems = printLogProblems(holdfastLogPath(tempDir));
    for (const line of postfix?.logProblems().slice(-20) ?? []) process.stderr.write(`postfix log: ${line}\n`);
  },
  cleanUp,
});

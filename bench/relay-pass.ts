// One cell of the benchmark's matrix (a message size and a number of sessions) for one relay,
// Holdfast or Postfix: a throughput pass with smtp-source, then a latency pass with
// bench/smtp-latency.ts, each waiting first for a quiet machine, with the CPU of the relay's whole
// process tree, its peak memory and what the rest of the machine used meanwhile.
import {
  type Sink,
  type StartedProcesses,
  machineBusyMs,
  ownCpuMs,
  procStatusKb,
  processCpuMs,
  runSmtpSource,
  waitForQuietMachine,
} from './lib.js';
import {
  MemorySampler,
  type ProcStat,
  type TreeCpu,
  type TreeMemory,
  resetPeakRss,
  treeCpu,
  treeSnapshot,
} from './process-tree.js';
import { percentile, runLatencyPass } from './smtp-latency.js';
import { type RedisCommandFigures, RedisCommandCounter } from './redis-commands.js';

export interface Relay {
  name: string;
  /** Its SMTP port on 127.0.0.1. */
  port: number;
  /** The root of its process tree: Holdfast's node process (its redis-server is its child), Postfix's master. */
  rootPid: number;
  /** Processes whose VmHWM, reset before each pass, gives the relay's exact peak (Holdfast and its redis-server). */
  peakRssPids: number[];
  /** Holdfast's Redis: its commands per message are counted over the throughput pass. */
  redisUrl?: string;
}

export interface Cell {
  /** smtp-source -l: payload bytes. */
  size: number;
  /** smtp-source -s, and the latency client's parallel sessions. */
  sessions: number;
  /** smtp-source -m; the latency pass sends about as many (rounded up to a whole number per session). */
  messages: number;
}

/**
 * The default smtp-source -m of a cell, so that a pass takes seconds, not minutes: 150 per session,
 * 300 at least and 5,000 at most, 2.5 times fewer for messages of 50 KB and more; in quick mode a
 * tenth of that, 20 at least.
 */
export function passMessages(size: number, sessions: number, quick: boolean): number {
  const messages = Math.min(5000, Math.max(300, 150 * sessions)) / (size >= 50_000 ? 2.5 : 1);
  return Math.round(quick ? Math.max(20, messages / 10) : messages);
}

/** What stays the same for every pass. */
export interface PassContext {
  processes: StartedProcesses;
  sink: Sink;
  smtpSource: string;
  from: string;
  to: string;
  /** smtp-source -d: keep the connection for the next message (else one connection per message). */
  reuseConnections: boolean;
  /** Wait at most this long for a quiet machine before each pass. */
  quietWaitS: number;
}

/** The CPU used during a pass, in ms, and the machine's busy share. */
export interface PassCpu {
  relay: TreeCpu;
  sinkMs: number;
  /** smtp-source runs that ended (children of this process it waited for). */
  loadMs: number;
  /** This process: the latency client and the polling. */
  benchMs: number;
  /** Every other process on the machine (the idle peer relay too). */
  othersMs: number;
  machineMs: number;
  wallMs: number;
  /** Busy share of the machine in the 2 s before the pass, in % of one core. */
  busyBeforePercent: number;
}

export interface CellFigures {
  relay: string;
  throughput: {
    smtpSourceWallMs: number;
    acceptedPerSecond: number;
    /** From the start of sending to the last delivery at the sink. */
    deliveredMs: number;
    deliveredPerSecond: number;
    sinkMessages: number;
    cpu: PassCpu;
    /** The relay's process tree (relay, Redis, Postfix's daemons), until the last delivery. */
    cpuMsPerMessage: number;
    /** Sum of the VmHWM of `peakRssPids` over the pass (NaN without them). */
    peakHwmKb: number;
    /** The tree's memory sampled every 250 ms, the highest sums. */
    sampledPeak: TreeMemory;
    /** Holdfast: what its Redis ran for the pass, per message (INFO commandstats). */
    redis?: RedisCommandFigures;
  };
  latency: {
    sent: number;
    accepted: number;
    delivered: number;
    wallMs: number;
    /** From writing the final "." to reading the 250, ms. */
    p50: number;
    p90: number;
    p99: number;
    max: number;
    cpu: PassCpu;
    errors: string[];
  };
}

interface Usage {
  tree: ProcStat[];
  sinkMs: number;
  own: { self: number; waitedChildren: number };
  machineMs: number;
  at: number;
}

function usage(relay: Relay, sink: Sink): Usage {
  return {
    tree: treeSnapshot(relay.rootPid),
    sinkMs: processCpuMs(sink.pid),
    own: ownCpuMs(),
    machineMs: machineBusyMs(),
    at: performance.now(),
  };
}

function passCpu(before: Usage, after: Usage, busyBeforeShare: number): PassCpu {
  const relay = treeCpu(before.tree, after.tree);
  const sinkMs = after.sinkMs - before.sinkMs;
  const loadMs = after.own.waitedChildren - before.own.waitedChildren;
  const benchMs = after.own.self - before.own.self;
  const machineMs = after.machineMs - before.machineMs;
  return {
    relay,
    sinkMs,
    loadMs,
    benchMs,
    othersMs: Math.max(0, machineMs - relay.totalMs - sinkMs - loadMs - benchMs),
    machineMs,
    wallMs: after.at - before.at,
    busyBeforePercent: busyBeforeShare * 100,
  };
}

/** The throughput pass: smtp-source, then waits until the sink counted every message. */
async function throughputPass(context: PassContext, relay: Relay, cell: Cell, label: string) {
  const { sink } = context;
  const busyBefore = await waitForQuietMachine(`${label}, throughput`, context.quietWaitS);
  for (const pid of relay.peakRssPids) resetPeakRss(pid);
  const sampler = new MemorySampler(relay.rootPid);
  const counter = relay.redisUrl === undefined ? undefined : new RedisCommandCounter(relay.redisUrl);
  await counter?.start();
  const before = usage(relay, sink);
  const send = await runSmtpSource(context.processes, {
    binary: context.smtpSource,
    port: relay.port,
    sessions: cell.sessions,
    messages: cell.messages,
    size: cell.size,
    from: context.from,
    to: context.to,
    reuseConnections: context.reuseConnections,
  });
  const delivered = await sink.waitFor(cell.messages);
  const cpu = passCpu(before, usage(relay, sink), busyBefore);
  const redis = await counter?.stop(cell.messages);
  counter?.close();
  const sampledPeak = sampler.stop();
  const peakHwmKb =
    relay.peakRssPids.length > 0
      ? relay.peakRssPids.reduce((sum, pid) => sum + procStatusKb(pid, 'VmHWM'), 0)
      : Number.NaN;
  await sink.reset();
  const deliveredMs = delivered.lastAt! - send.startAt;
  return {
    smtpSourceWallMs: send.wallMs,
    acceptedPerSecond: cell.messages / (send.wallMs / 1000),
    deliveredMs,
    deliveredPerSecond: cell.messages / (deliveredMs / 1000),
    sinkMessages: delivered.messages,
    cpu,
    cpuMsPerMessage: cpu.relay.totalMs / cell.messages,
    peakHwmKb,
    sampledPeak,
    ...(redis === undefined ? {} : { redis }),
  };
}

/** The latency pass: `sessions` connections, each sending its messages one after the other. */
async function latencyPass(context: PassContext, relay: Relay, cell: Cell, label: string) {
  const { sink } = context;
  const busyBefore = await waitForQuietMachine(`${label}, latency`, context.quietWaitS);
  const before = usage(relay, sink);
  const latency = await runLatencyPass({
    port: relay.port,
    sessions: cell.sessions,
    messagesPerSession: Math.ceil(cell.messages / cell.sessions),
    size: cell.size,
    from: context.from,
    to: context.to,
  });
  const accepted = latency.dataEndToReply.length;
  const delivered = await sink.waitFor(accepted);
  const cpu = passCpu(before, usage(relay, sink), busyBefore);
  await sink.reset();
  return {
    sent: latency.sent,
    accepted,
    delivered: delivered.messages,
    wallMs: latency.wallMs,
    p50: percentile(latency.dataEndToReply, 50),
    p90: percentile(latency.dataEndToReply, 90),
    p99: percentile(latency.dataEndToReply, 99),
    max: percentile(latency.dataEndToReply, 100),
    cpu,
    errors: latency.errors.slice(0, 10),
  };
}

/** Both passes of one cell against one relay; the sink is reset after each. */
export async function measureCell(context: PassContext, relay: Relay, cell: Cell): Promise<CellFigures> {
  const label = `bench: ${relay.name}, ${cell.size} B, ${cell.sessions} sessions`;
  process.stderr.write(`${label}: ${cell.messages} messages\n`);
  const throughput = await throughputPass(context, relay, cell, label);
  const latency = await latencyPass(context, relay, cell, label);
  return { relay: relay.name, throughput, latency };
}

// A relay's processes as one tree read from /proc, for the benchmark: the CPU time that a daemon
// and every process below it used over a pass (Holdfast and its redis-server; Postfix's master and
// its smtpd, cleanup, qmgr, lmtp, ...), including processes that started and exited within the
// pass, and the memory of the tree.
//
// CPU: /proc/PID/stat gives each process's own utime + stime and, as cutime + cstime, the CPU of its
// children that exited and that it waited for. A snapshot sums both over the root and every process
// below it (zombies too: their CPU moves to their parent's cutime once reaped, so it is never counted
// twice or lost). The difference of two snapshots is then all the CPU the tree used in between, even
// for the short-lived smtpd processes that no sampling would see; processes that exited in between
// show up as "exited" in the breakdown.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** Clock ticks (the unit of /proc/PID/stat's CPU fields) in ms. */
export const ticksToMs = (ticks: number) => (ticks * 1000) / CLOCK_TICKS_PER_SECOND;

export interface ProcStat {
  pid: number;
  comm: string;
  /** R, S, D, Z, ... */
  state: string;
  ppid: number;
  /** CPU time used so far (utime + stime), in clock ticks. */
  ticks: number;
  /** CPU time of its children that exited and that it waited for (cutime + cstime), in clock ticks. */
  waitedChildrenTicks: number;
}

/** Parses the text of /proc/PID/stat (the name may hold spaces and parentheses: it ends at the last ")"). */
export function parseProcStat(pid: number, text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  // After ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
  const fields = text.slice(close + 2).split(' ');
  const field = (index: number) => Number(fields[index]);
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: fields[0] ?? '?',
    ppid: field(1),
    ticks: field(11) + field(12),
    waitedChildrenTicks: field(13) + field(14),
  };
}

/** /proc/PID/stat parsed, zombies included; undefined once the process is gone. */
function readStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(pid, readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** A live process's /proc/PID/stat; undefined once it is gone or a zombie. */
export function readProcStat(pid: number): ProcStat | undefined {
  const stat = readStat(pid);
  return stat?.state === 'Z' ? undefined : stat;
}

/** Every process on the machine, zombies included. */
export function allProcesses(): ProcStat[] {
  const processes: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) processes.push(stat);
  }
  return processes;
}

/** `root` and every process below it, taken from `processes` (empty when `root` is not among them). */
export function processTree(processes: readonly ProcStat[], root: number): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  for (const stat of processes) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  const tree = processes.filter((stat) => stat.pid === root);
  for (let index = 0; index < tree.length; index++) tree.push(...(children.get(tree[index]!.pid) ?? []));
  return tree;
}

/** The processes of the tree under `root` now. */
export function treeSnapshot(root: number): ProcStat[] {
  return processTree(allProcesses(), root);
}

export interface TreeCpu {
  /** All the CPU the tree used between the two snapshots, in ms. */
  totalMs: number;
  /** Its share used by processes still there at the end, by process name, in ms. */
  byComm: Record<string, number>;
  /** Its share used by processes that exited in between (their parent waited for them), in ms. */
  exitedMs: number;
}

/** The CPU a process tree used between two snapshots of it (see the top of this file). */
export function treeCpu(before: readonly ProcStat[], after: readonly ProcStat[]): TreeCpu {
  const earlier = new Map(before.map((stat) => [stat.pid, stat]));
  const later = new Set(after.map((stat) => stat.pid));
  const byComm: Record<string, number> = {};
  let waitedTicks = 0;
  for (const stat of after) {
    const then = earlier.get(stat.pid);
    byComm[stat.comm] = (byComm[stat.comm] ?? 0) + ticksToMs(stat.ticks - (then?.ticks ?? 0));
    waitedTicks += stat.waitedChildrenTicks - (then?.waitedChildrenTicks ?? 0);
  }
  // A process gone since `before` is now part of its parent's waited-for children, its whole life
  // long: take off what it had already used at `before`.
  for (const stat of before) if (!later.has(stat.pid)) waitedTicks -= stat.ticks + stat.waitedChildrenTicks;
  const exitedMs = ticksToMs(waitedTicks);
  const totalMs = Object.values(byComm).reduce((sum, ms) => sum + ms, exitedMs);
  return { totalMs, byComm, exitedMs };
}

export interface TreeMemory {
  /** Sum of the resident set sizes (shared pages counted in every process that maps them), kB. */
  rssKb: number;
  /** Sum of the proportional set sizes (each shared page divided among the processes that map it), kB. */
  pssKb: number;
  processes: number;
}

/** The Rss and Pss lines of /proc/PID/smaps_rollup, in kB (NaN when one is missing). */
export function parseSmapsRollup(text: string): { rssKb: number; pssKb: number } {
  const kb = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) : Number.NaN;
  };
  return { rssKb: kb('Rss'), pssKb: kb('Pss') };
}

/** The memory of the live processes of the tree under `root` now. */
export function treeMemory(root: number): TreeMemory {
  const memory: TreeMemory = { rssKb: 0, pssKb: 0, processes: 0 };
  for (const stat of treeSnapshot(root)) {
    if (stat.state === 'Z') continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${stat.pid}/smaps_rollup`, 'utf8');
    } catch {
      continue; // it exited meanwhile
    }
    const { rssKb, pssKb } = parseSmapsRollup(text);
    memory.rssKb += rssKb;
    memory.pssKb += pssKb;
    memory.processes++;
  }
  return memory;
}

/** Samples the memory of a process tree at an interval and keeps the highest sums seen. */
export class MemorySampler {
  readonly peak: TreeMemory = { rssKb: 0, pssKb: 0, processes: 0 };
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly root: number,
    intervalMs = 250,
  ) {
    this.sample();
    // unref: a pass that fails before stop() must not keep the benchmark from exiting.
    this.timer = setInterval(() => this.sample(), intervalMs).unref();
  }

  private sample(): void {
    const memory = treeMemory(this.root);
    this.peak.rssKb = Math.max(this.peak.rssKb, memory.rssKb);
    this.peak.pssKb = Math.max(this.peak.pssKb, memory.pssKb);
    this.peak.processes = Math.max(this.peak.processes, memory.processes);
  }

  /** Takes a last sample, stops, and returns the peaks. */
  stop(): TreeMemory {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}

/** Resets a process's peak resident set size (VmHWM) to its current size: needs to own it or be root. */
export function resetPeakRss(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

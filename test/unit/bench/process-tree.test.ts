// Unit tests for bench/process-tree.ts: /proc parsing and the CPU of a process tree across two snapshots.
import { describe, expect, it } from 'vitest';
import {
  type ProcStat,
  parseProcStat,
  parseSmapsRollup,
  processTree,
  ticksToMs,
  treeCpu,
} from '../../../bench/process-tree.js';

/** A /proc/PID/stat line up to cstime, then the fields that follow (all zero here). */
const statLine = (pid: number, comm: string, state: string, ppid: number, cpu: [number, number, number, number]) =>
  `${pid} (${comm}) ${state} ${ppid} ${pid} ${pid} 0 -1 4194560 100 0 0 0 ${cpu.join(' ')} 20 0 1 0 ${'0 '.repeat(30)}`;

const stat = (pid: number, comm: string, ppid: number, ticks: number, waitedChildrenTicks = 0): ProcStat => ({
  pid,
  comm,
  state: 'S',
  ppid,
  ticks,
  waitedChildrenTicks,
});

describe('parseProcStat', () => {
  it('reads the name, state, parent, own CPU (utime + stime) and waited-for children CPU (cutime + cstime)', () => {
    expect(parseProcStat(42, statLine(42, 'smtpd', 'S', 7, [30, 12, 500, 250]))).toEqual({
      pid: 42,
      comm: 'smtpd',
      state: 'S',
      ppid: 7,
      ticks: 42,
      waitedChildrenTicks: 750,
    });
  });

  it('takes a name with spaces and parentheses whole: it ends at the last ")"', () => {
    const parsed = parseProcStat(9, statLine(9, 'a (b) c', 'Z', 1, [1, 2, 3, 4]));
    expect(parsed.comm).toBe('a (b) c');
    expect(parsed.state).toBe('Z');
    expect(parsed.ticks).toBe(3);
  });
});

describe('processTree', () => {
  it('holds the root and every process below it, and nothing else', () => {
    const processes = [
      stat(1, 'init', 0, 0),
      stat(10, 'master', 1, 0),
      stat(11, 'smtpd', 10, 0),
      stat(12, 'cleanup', 10, 0),
      stat(13, 'child-of-smtpd', 11, 0),
      stat(20, 'node', 1, 0),
      stat(21, 'redis-server', 20, 0),
    ];
    expect(
      processTree(processes, 10)
        .map((process) => process.pid)
        .sort(),
    ).toEqual([10, 11, 12, 13]);
    expect(processTree(processes, 99)).toEqual([]);
  });
});

describe('treeCpu', () => {
  it('counts what live processes used, by name, and what a new process used since it started', () => {
    const before = [stat(10, 'master', 1, 100), stat(11, 'smtpd', 10, 50)];
    const after = [stat(10, 'master', 1, 103), stat(11, 'smtpd', 10, 70), stat(12, 'smtpd', 10, 5)];
    const cpu = treeCpu(before, after);
    expect(cpu.byComm).toEqual({ master: ticksToMs(3), smtpd: ticksToMs(25) });
    expect(cpu.exitedMs).toBe(0);
    expect(cpu.totalMs).toBe(ticksToMs(28));
  });

  it('counts a process that exited in between through its parent, less what it had used before', () => {
    // smtpd 11 had used 50 ticks, then used 20 more and exited; master waited for it (cutime 70).
    const before = [stat(10, 'master', 1, 100, 0), stat(11, 'smtpd', 10, 50)];
    const after = [stat(10, 'master', 1, 100, 70)];
    const cpu = treeCpu(before, after);
    expect(cpu.exitedMs).toBe(ticksToMs(20));
    expect(cpu.totalMs).toBe(ticksToMs(20));
  });

  it('counts a process that started and exited in between whole', () => {
    const before = [stat(10, 'master', 1, 100, 0)];
    const after = [stat(10, 'master', 1, 101, 8)];
    expect(treeCpu(before, after).totalMs).toBe(ticksToMs(9));
  });
});

describe('parseSmapsRollup', () => {
  it('reads Rss and Pss in kB, not the Pss_ breakdown lines', () => {
    const text = [
      '55d3061a8000-7ffcda23b000 ---p 00000000 00:00 0                          [rollup]',
      'Rss:                4768 kB',
      'Pss:                1258 kB',
      'Pss_Dirty:           624 kB',
      'Pss_Anon:            624 kB',
    ].join('\n');
    expect(parseSmapsRollup(text)).toEqual({ rssKb: 4768, pssKb: 1258 });
  });
});

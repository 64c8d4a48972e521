// Unit tests for the benchmark's matrix and report: message counts, list settings, the side-by-side table.
import { afterEach, describe, expect, it } from 'vitest';
import { type CellResult, comparisonTable, ratios } from '../../../bench/compare-report.js';
import { listSetting } from '../../../bench/lib.js';
import { type CellFigures, passMessages } from '../../../bench/relay-pass.js';

const cpu = {
  relay: { totalMs: 0, byComm: {}, exitedMs: 0 },
  sinkMs: 0,
  loadMs: 0,
  benchMs: 0,
  othersMs: 0,
  machineMs: 0,
  wallMs: 1000,
  busyBeforePercent: 0,
};

function figures(relay: string, deliveredPerSecond: number, p99: number, peakHwmKb = Number.NaN): CellFigures {
  return {
    relay,
    throughput: {
      smtpSourceWallMs: 1000,
      acceptedPerSecond: deliveredPerSecond,
      deliveredMs: 1000,
      deliveredPerSecond,
      sinkMessages: 100,
      cpu,
      cpuMsPerMessage: 0.5,
      peakHwmKb,
      sampledPeak: { rssKb: 4096, pssKb: 2048, processes: 3 },
    },
    latency: { sent: 100, accepted: 100, delivered: 100, wallMs: 1000, p50: 1, p90: 2, p99, max: 9, cpu, errors: [] },
  };
}

describe('passMessages', () => {
  it('gives 150 messages a session, 300 at least and 5,000 at most, fewer for large messages', () => {
    expect([1, 20, 100].map((sessions) => passMessages(5120, sessions, false))).toEqual([300, 3000, 5000]);
    expect([1, 20, 100].map((sessions) => passMessages(102_400, sessions, false))).toEqual([120, 1200, 2000]);
  });

  it('sends a tenth in quick mode, 20 at least', () => {
    expect([1, 20, 100].map((sessions) => passMessages(5120, sessions, true))).toEqual([30, 300, 500]);
    expect(passMessages(102_400, 1, true)).toBe(20);
  });
});

describe('listSetting', () => {
  afterEach(() => {
    delete process.env.BENCH_TEST_LIST;
  });

  it('reads comma-separated numbers, and falls back when the variable is not set', () => {
    expect(listSetting('BENCH_TEST_LIST', [1, 2])).toEqual([1, 2]);
    process.env.BENCH_TEST_LIST = '1, 20,100';
    expect(listSetting('BENCH_TEST_LIST', [])).toEqual([1, 20, 100]);
  });

  it('refuses anything but numbers >= 0', () => {
    process.env.BENCH_TEST_LIST = '1,x';
    expect(() => listSetting('BENCH_TEST_LIST', [])).toThrow('BENCH_TEST_LIST');
  });
});

describe('the comparison table', () => {
  const result: CellResult = {
    size: 5120,
    sessions: 20,
    messages: 100,
    holdfast: figures('Holdfast', 900, 8, 200 * 1024),
    peer: figures('Postfix', 300, 16),
  };

  it('divides each of Holdfast figures by the peer one', () => {
    const ratio = ratios(result);
    expect(ratio['delivered msgs/s']).toBe(3);
    expect(ratio['accept p99 ms']).toBe(0.5);
    // Holdfast's exact VmHWM sum against Postfix's sampled RSS sum.
    expect(ratio['peak RSS sum MB']).toBe(50);
  });

  it('has a row per figure with Holdfast, the peer and the ratio, the session count on the first', () => {
    const lines = comparisonTable([result], 'Postfix').split('\n');
    expect(lines[0]).toMatch(/^sessions\s+figure\s+Holdfast\s+Postfix\s+Holdfast\/Postfix$/);
    expect(lines[1]).toMatch(/^20\s+accepted msgs\/s\s+900\s+300\s+3\.00$/);
    expect(lines.find((line) => line.includes('accept p99 ms'))).toMatch(/\s+8\.00\s+16\.00\s+0\.50$/);
  });

  it('has only the Holdfast column when Holdfast runs alone', () => {
    const lines = comparisonTable([{ ...result, peer: undefined }], undefined).split('\n');
    expect(lines[0]).toMatch(/^sessions\s+figure\s+Holdfast$/);
    expect(lines[2]).toMatch(/^\s+delivered msgs\/s\s+900$/);
  });
});

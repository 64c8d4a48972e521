// Times a series of calls made one after another: latency percentiles and the CPU they cost.
import { fixed, machineBusyMs, ownCpuMs, processCpuMs, waitForQuietMachine } from './lib.js';
import { percentile } from './smtp-latency.js';

export interface Latencies {
  calls: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Percentiles and mean of latency samples (ms). */
export function latencies(samples: readonly number[]): Latencies {
  return {
    calls: samples.length,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: percentile(samples, 100),
    mean: samples.reduce((sum, sample) => sum + sample, 0) / samples.length,
  };
}

/** "p50 A ms, p99 B ms, max C ms" */
export const latencyText = (figures: Latencies) =>
  `p50 ${fixed(figures.p50, 2)} ms, p99 ${fixed(figures.p99, 2)} ms, max ${fixed(figures.max, 2)} ms`;

export interface Series extends Latencies {
  name: string;
  /** CPU (user + system) per call of the server measured (redis-server) and of this process, in ms. */
  serverCpuMsPerCall: number;
  benchCpuMsPerCall: number;
  /** Busy CPU of the whole machine during the series, in % of one core. */
  machineBusyPercent: number;
  /** Busy share of the machine just before the series (from waitForQuietMachine), in % of one core. */
  busyBeforePercent: number;
}

export interface SeriesOptions {
  name: string;
  calls: number;
  /** The process whose CPU is measured besides this one. */
  serverPid: number;
  /** Waits up to this long for a quiet machine before the series. */
  quietWaitS: number;
  logPrefix: string;
}

/** `calls` calls one after another, after 5 unmeasured ones. */
export async function timeCalls(options: SeriesOptions, call: () => Promise<unknown>): Promise<Series> {
  const { name, calls, serverPid } = options;
  for (let index = 0; index < 5; index++) await call();
  const busyBefore = await waitForQuietMachine(`${options.logPrefix}: ${name}`, options.quietWaitS);
  const samples: number[] = [];
  const server0 = processCpuMs(serverPid);
  const bench0 = ownCpuMs().self;
  const machine0 = machineBusyMs();
  const started = performance.now();
  for (let index = 0; index < calls; index++) {
    const callStarted = performance.now();
    await call();
    samples.push(performance.now() - callStarted);
  }
  const wallMs = performance.now() - started;
  return {
    name,
    ...latencies(samples),
    serverCpuMsPerCall: (processCpuMs(serverPid) - server0) / calls,
    benchCpuMsPerCall: (ownCpuMs().self - bench0) / calls,
    machineBusyPercent: ((machineBusyMs() - machine0) / wallMs) * 100,
    busyBeforePercent: busyBefore * 100,
  };
}

/** One line: the latencies, then the CPU per call (`server` names the other process). */
export function seriesLine(series: Series, server: string): string {
  return (
    `  ${series.name.padEnd(28)} ${latencyText(series)}, mean ${fixed(series.mean, 2)} ms; CPU per call: ${server} ` +
    `${fixed(series.serverCpuMsPerCall, 3)} ms, bench ${fixed(series.benchCpuMsPerCall, 3)} ms ` +
    `(machine ${fixed(series.machineBusyPercent, 0)}% busy during, ${fixed(series.busyBeforePercent, 0)}% before)`
  );
}

// The benchmark's report: one side-by-side table per message size (Holdfast, the peer, and the
// ratio Holdfast/peer for each figure), then one line per pass with where the CPU went and how busy
// the machine was.
import { fixed } from './lib.js';
import { redisCommandsText } from './redis-commands.js';
import type { CellFigures, PassCpu } from './relay-pass.js';

/** One cell of the matrix: Holdfast's figures and, unless BENCH_PEER=none, the peer's. */
export interface CellResult {
  size: number;
  sessions: number;
  messages: number;
  holdfast: CellFigures;
  peer?: CellFigures;
}

interface Metric {
  name: string;
  value: (figures: CellFigures) => number;
  digits: number;
}

/**
 * Peak resident memory summed over the relay's processes (a page that N of them share counts N
 * times): the exact VmHWM sum where the relay has it (Holdfast), else the sampled RSS sum. The PSS
 * row, sampled for both, divides each shared page among the processes that share it.
 */
const peakRssKb = (figures: CellFigures) =>
  Number.isFinite(figures.throughput.peakHwmKb) ? figures.throughput.peakHwmKb : figures.throughput.sampledPeak.rssKb;

/** The figures compared, in the order of the table. */
export const metrics: readonly Metric[] = [
  { name: 'accepted msgs/s', value: (figures) => figures.throughput.acceptedPerSecond, digits: 0 },
  { name: 'delivered msgs/s', value: (figures) => figures.throughput.deliveredPerSecond, digits: 0 },
  { name: 'accept p50 ms', value: (figures) => figures.latency.p50, digits: 2 },
  { name: 'accept p99 ms', value: (figures) => figures.latency.p99, digits: 2 },
  { name: 'CPU ms/msg', value: (figures) => figures.throughput.cpuMsPerMessage, digits: 3 },
  {
    name: 'Redis commands/msg',
    value: (figures) => figures.throughput.redis?.commandsPerMessage ?? Number.NaN,
    digits: 1,
  },
  {
    name: 'Redis command µs/msg',
    value: (figures) => figures.throughput.redis?.usecPerMessage ?? Number.NaN,
    digits: 0,
  },
  { name: 'peak PSS MB', value: (figures) => figures.throughput.sampledPeak.pssKb / 1024, digits: 1 },
  { name: 'peak RSS sum MB', value: (figures) => peakRssKb(figures) / 1024, digits: 1 },
];

/** Holdfast's figure divided by the peer's, for each metric (NaN without a peer). */
export function ratios(result: CellResult): Record<string, number> {
  const peer = result.peer;
  return Object.fromEntries(
    metrics.map((metric) => [metric.name, peer ? metric.value(result.holdfast) / metric.value(peer) : Number.NaN]),
  );
}

/** Rows of cells, the first column left-aligned, the others right-aligned, two spaces apart. */
function layout(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
        .join('  '),
    )
    .join('\n')
    .replace(/ +$/gm, '');
}

/**
 * The table for one message size: per session count, each metric for Holdfast, the peer and their
 * ratio; Holdfast's column alone without a peer (BENCH_PEER=none).
 */
export function comparisonTable(results: readonly CellResult[], peerName: string | undefined): string {
  const rows = [['sessions', 'figure', 'Holdfast', ...(peerName ? [peerName, `Holdfast/${peerName}`] : [])]];
  for (const result of results) {
    const ratio = ratios(result);
    metrics.forEach((metric, index) => {
      const peerCells = result.peer
        ? [fixed(metric.value(result.peer), metric.digits), fixed(ratio[metric.name]!, 2)]
        : ['n/a', 'n/a'];
      rows.push([
        index === 0 ? String(result.sessions) : '',
        metric.name,
        fixed(metric.value(result.holdfast), metric.digits),
        ...(peerName ? peerCells : []),
      ]);
    });
  }
  return layout(rows);
}

const seconds = (ms: number) => `${fixed(ms / 1000, 2)} s`;

/** "node 1.20 s, redis-server 0.31 s, exited 0.00 s": where the relay's CPU went, largest first. */
function relayCpuText(cpu: PassCpu): string {
  const parts = Object.entries(cpu.relay.byComm)
    .filter(([, ms]) => ms > 0)
    .sort(([, a], [, b]) => b - a)
    .map(([comm, ms]) => `${comm} ${seconds(ms)}`);
  if (cpu.relay.exitedMs > 0) parts.push(`exited ${seconds(cpu.relay.exitedMs)}`);
  return parts.join(', ');
}

/** "machine 150% busy of 200% (10% before); sink 0.4 s, load 0.2 s, bench 0.1 s, others 0.0 s" */
function machineText(cpu: PassCpu, cores: number): string {
  return (
    `machine ${fixed((cpu.machineMs / cpu.wallMs) * 100, 0)}% busy of ${cores * 100}% ` +
    `(${fixed(cpu.busyBeforePercent, 0)}% before); sink ${seconds(cpu.sinkMs)}, load ${seconds(cpu.loadMs)}, ` +
    `bench ${seconds(cpu.benchMs)}, other processes ${seconds(cpu.othersMs)}`
  );
}

/** Two lines about one relay's passes in one cell: what was sent and counted, where the CPU went. */
export function passLines(result: CellResult, figures: CellFigures, cores: number): string {
  const t = figures.throughput;
  const l = figures.latency;
  const counted = t.sinkMessages === result.messages ? '' : ` (WARNING: the sink counted ${t.sinkMessages})`;
  return (
    `  ${figures.relay}, ${result.sessions} session${result.sessions === 1 ? '' : 's'}: throughput ${result.messages} messages, smtp-source ` +
    `${seconds(t.smtpSourceWallMs)}, all delivered after ${seconds(t.deliveredMs)}${counted}; ` +
    `CPU ${relayCpuText(t.cpu)}; ${machineText(t.cpu, cores)}\n` +
    `    latency: ${l.accepted} of ${l.sent} accepted in ${seconds(l.wallMs)}, ${l.delivered} delivered; ` +
    `p90 ${fixed(l.p90, 2)} ms, max ${fixed(l.max, 2)} ms; ${machineText(l.cpu, cores)}` +
    `${t.redis ? `\n    ${redisCommandsText(t.redis)}` : ''}` +
    `${l.errors.length > 0 ? `\n    latency client errors: ${l.errors.join('; ')}` : ''}`
  );
}

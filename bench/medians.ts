// The medians of several `npm run bench` runs (their BENCH_JSON files), cell by cell: the figures
// bench/RESULTS.md quotes, since one run on a small shared machine varies by 10-15 %.
//
//   tsx bench/medians.ts RUN1.json RUN2.json RUN3.json
//
// Prints per cell (size, sessions) the median of each figure for Holdfast and the peer, and the
// median of the per-run ratios Holdfast/peer (each run's ratio is of figures measured side by side).
import { readFileSync } from 'node:fs';
import { fixed } from './lib.js';
import type { CellResult } from './compare-report.js';
import { metrics } from './compare-report.js';

interface Run {
  cells: Array<CellResult & { ratios: Record<string, number> }>;
}

function median(values: number[]): number {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const files = process.argv.slice(2);
if (files.length === 0) throw new Error('usage: tsx bench/medians.ts RUN.json ...');
const runs = files.map((file) => JSON.parse(readFileSync(file, 'utf8')) as Run);
const cells = runs[0]!.cells.map(({ size, sessions }) => ({ size, sessions }));
const lines = [`medians of ${runs.length} runs: ${files.join(' ')}`];
for (const { size, sessions } of cells) {
  const ofCell = runs.map((run) => run.cells.find((cell) => cell.size === size && cell.sessions === sessions)!);
  lines.push(`\n${size} B, ${sessions} session${sessions === 1 ? '' : 's'}`);
  lines.push(
    `${'figure'.padEnd(22)}${'Holdfast'.padStart(10)}${'peer'.padStart(10)}${'ratio'.padStart(8)}   (per run)`,
  );
  for (const metric of metrics) {
    const holdfast = ofCell.map((cell) => metric.value(cell.holdfast));
    const peer = ofCell.map((cell) => (cell.peer ? metric.value(cell.peer) : Number.NaN));
    const ratio = ofCell.map((cell) => cell.ratios[metric.name] ?? Number.NaN);
    lines.push(
      `${metric.name.padEnd(22)}${fixed(median(holdfast), metric.digits).padStart(10)}` +
        `${fixed(median(peer), metric.digits).padStart(10)}${fixed(median(ratio), 2).padStart(8)}` +
        `   (${holdfast.map((value) => fixed(value, metric.digits)).join(', ')})`,
    );
  }
}
process.stdout.write(`${lines.join('\n')}\n`);

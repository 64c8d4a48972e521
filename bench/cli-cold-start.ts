// How long `holdfast status` takes from a cold start to its answer, and the memory it peaks at: the
// CLI must not load the server (Redis clients, BullMQ, fastify, smtp-server) to ask the admin API.
// Runs the built CLI against a port where nothing listens (it fails at once after loading), RUNS
// times, and prints the median and the worst wall time and peak RSS. Usage: npm run bench:cli
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { numberSetting, repoRoot } from './lib.js';

const runs = numberSetting('RUNS', 20);

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const port = await closedPort();
const samples: Array<{ ms: number; rssMb: number }> = [];
for (let run = 0; run < runs + 2; run++) {
  const started = process.hrtime.bigint();
  const result = spawnSync(
    '/usr/bin/time',
    ['-f', '%M', process.execPath, join(repoRoot, 'bin/holdfast.js'), 'status', '--url', `http://127.0.0.1:${port}`],
    { encoding: 'utf8' },
  );
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const rssKb = Number(/(\d+)\s*$/.exec(result.stderr)?.[1] ?? NaN);
  if (!result.stderr.includes('cannot reach the admin API')) throw new Error(`unexpected: ${result.stderr}`);
  if (run >= 2) samples.push({ ms, rssMb: rssKb / 1024 }); // the first two warm the page cache
}
const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
const ms = sorted(samples.map((sample) => sample.ms));
const rss = sorted(samples.map((sample) => sample.rssMb));
process.stdout.write(
  `holdfast status, cold start to its answer (${runs} runs): median ${ms[ms.length >> 1]!.toFixed(0)} ms, ` +
    `worst ${ms.at(-1)!.toFixed(0)} ms; peak RSS median ${rss[rss.length >> 1]!.toFixed(0)} MB\n`,
);

// Prints the outage suite's figures (var/reliability/*.json, written by test/e2e/outage-*.test.ts) as a Markdown table.
// Usage: node scripts/reliability-table.mjs   (after `npm test` or `npx vitest run test/e2e/outage`)
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const DIR = 'var/reliability';
/** The scenarios in the order docs/reliability.md lists them; any other file comes after. */
const ORDER = [
  'baseline',
  'store-stopped',
  'operator-hold',
  'userdb-emptied',
  'holdfast-killed',
  'redis-killed',
  'node-killed',
  'baseline-cluster',
  'store-stopped-cluster',
  'operator-hold-cluster',
  'userdb-emptied-cluster',
  'node-killed-cluster',
];
const COLUMNS = [
  'sent',
  'acknowledged',
  'delivered',
  'lost',
  'duplicated',
  'misrouted',
  'bounced',
  'unacknowledgedDelivered',
  'attempts',
];
const HEADINGS = [
  'scenario',
  'sent',
  'acknowledged',
  'delivered',
  'lost',
  'duplicated',
  'misrouted',
  'bounced',
  'unacknowledged but delivered',
  'SMTP attempts',
];

if (!existsSync(DIR)) {
  process.stderr.write(`${DIR} does not exist: run the outage suite first (npx vitest run test/e2e/outage)\n`);
  process.exit(1);
}
const results = readdirSync(DIR)
  .filter((name) => name.endsWith('.json'))
  .map((name) => JSON.parse(readFileSync(join(DIR, name), 'utf8')))
  .sort((a, b) => rank(a.scenario) - rank(b.scenario) || a.scenario.localeCompare(b.scenario));

const rows = [HEADINGS, HEADINGS.map(() => '---'), ...results.map((r) => [r.scenario, ...COLUMNS.map((c) => r[c])])];
process.stdout.write(rows.map((row) => `| ${row.join(' | ')} |`).join('\n') + '\n');
const times = results.map((r) => r.measuredAt).sort();
if (times.length > 0) process.stdout.write(`\nMeasured ${times[0]} to ${times.at(-1)}.\n`);

function rank(scenario) {
  const index = ORDER.indexOf(scenario);
  return index === -1 ? ORDER.length : index;
}

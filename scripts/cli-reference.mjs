// Writes docs/cli.md from the CLI's own --help texts, so the reference cannot drift from the code.
// Usage: node scripts/cli-reference.mjs [--check]   (--check: exit 1 when docs/cli.md is out of date)
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const COMMANDS = [
  [],
  ['start'],
  ['check-config'],
  ['status'],
  ['hold'],
  ['release'],
  ['cancel-window'],
  ['confirm-bounces'],
  ['probe'],
  ['audit'],
  ['queue', 'list'],
  ['queue', 'show'],
  ['queue', 'hold'],
  ['queue', 'release'],
  ['queue', 'retry'],
  ['queue', 'delete'],
  ['trace'],
  ['replay'],
  ['route', 'get'],
  ['route', 'set'],
  ['route', 'delete'],
  ['route', 'import'],
  ['store', 'move'],
  ['store', 'unmove'],
  ['store', 'endpoints'],
];

// The defaults shown must not depend on who generates the file.
const environment = { ...process.env, COLUMNS: '100' };
delete environment.HOLDFAST_CONFIG;
const help = (words) =>
  execFileSync('node', ['bin/holdfast.js', ...words, '--help'], { encoding: 'utf8', env: environment }).trimEnd();

const sections = COMMANDS.map((words) => {
  const title = words.length === 0 ? 'holdfast' : `holdfast ${words.join(' ')}`;
  return `## ${title}\n\n\`\`\`text\n${help(words)}\n\`\`\``;
});
const text = `# The holdfast command line

Generated from the commands' own \`--help\` by \`node scripts/cli-reference.mjs\` (a test checks it
is current). Every command but \`start\` and \`check-config\` is a client of the admin API
([api.md](api.md)); exit codes are in the [README](../README.md#commands).

${sections.join('\n\n')}
`;

if (process.argv.includes('--check')) {
  const current = readFileSync('docs/cli.md', 'utf8');
  if (current !== text) {
    process.stderr.write('docs/cli.md is out of date: run node scripts/cli-reference.mjs\n');
    process.exit(1);
  }
} else {
  writeFileSync('docs/cli.md', text);
}

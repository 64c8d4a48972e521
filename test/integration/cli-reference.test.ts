// The CLI reference in docs/cli.md is the commands' own --help: it must be regenerated when they change.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

describe('docs/cli.md', () => {
  it('matches what every command prints for --help', async () => {
    const run = promisify(execFile)('node', ['scripts/cli-reference.mjs', '--check']);
    await expect(run).resolves.toBeDefined();
  });
});

// Scenario: the CLI is a client of the admin API: it finds it, proves its token, and says clearly when it cannot.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { holdfastCli, writeCliConfig } from '../helpers/cli.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { withRelay } from '../helpers/with-relay.js';

const TOKEN = 'cli-test-token-0123456789abcdef';

describe('the holdfast CLI as an API client', () => {
  const fixture = withRelay({ stores: ['store1'], cli: true, config: { admin: { port: 0, token: TOKEN } } });
  const { cli } = fixture;

  it('uses the admin address and token of the config file, and prints JSON with --json', async () => {
    const status = await cli('status', '--json');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject([{ mailstore: 'store1', state: { kind: 'open' } }]);
    const table = await cli('status');
    expect(table.stdout).toMatch(
      /^MAILSTORE +STATE +WAITING +DEFERRED +ACTIVE +FAILED +OLDEST +EXPIRING +DETAIL\nstore1 +open/,
    );
    expect(table.stdout).toMatch(
      /QUEUE SHAPE\nAGE \(MINUTES\) +T +5 +10 +20 +40 +80 +160 +320 +640 +1280 +1280\+\nstore1 +0 +0/,
    );
  });

  it('probes a store, shows one message with its trace, and explains a route', async () => {
    const { relay } = fixture;
    expect(await cli('probe', 'store1')).toMatchObject({ code: 0, stdout: 'store1: answered; open\n' });

    await relay.app.mailstoreAdmin!.hold('store1', { reason: 'for the test', by: 'ops' });
    const queueId = queueIdOf(await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'shown'));
    const shown = await cli('queue', 'show', queueId);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`queue id:  ${queueId}`);
    expect(shown.stdout).toMatch(/jobs:\n {2}store1 {2}waiting {2}-> alice@example.com\nevents:\n {2}.*accepted/);
    expect(shown.stdout).toContain('Subject: shown');
    expect((await cli('queue', 'show', 'NOSUCHID')).code).toBe(65);
    await relay.app.mailstoreAdmin!.release('store1', { by: 'ops' });

    expect((await cli('route', 'get', 'alice@example.com')).stdout).toBe(
      'alice@example.com -> store1   table: -   config: store1\n',
    );
  });

  it('exits 77 with a hint when the token is wrong', async () => {
    const { relay } = fixture;
    const wrong = {
      ...relay,
      config: { ...relay.config, admin: { ...relay.config.admin, token: 'not-the-right-token-at-all' } },
    };
    const directory = mkdtempSync(join(tmpdir(), 'holdfast-cli-'));
    try {
      const result = await holdfastCli(writeCliConfig(directory, wrong), 'status');
      expect(result.code).toBe(77);
      expect(result.stderr).toMatch(/missing or wrong bearer token \(set HOLDFAST_ADMIN_TOKEN/);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('exits 69 and says where it looked when nothing answers', async () => {
    const port = await freePort();
    const result = await cli('status', '--url', `http://127.0.0.1:${port}`);
    expect(result.code).toBe(69);
    expect(result.stderr).toContain(`cannot reach the admin API at http://127.0.0.1:${port}`);
  });

  it('exits 65 when the API refuses the request, with its reason', async () => {
    const result = await cli('release', 'store1');
    expect(result).toMatchObject({ code: 65, stderr: expect.stringMatching(/^holdfast: .*not held/) as string });
    expect((await cli('hold', 'nope', '--reason', 'x')).stderr).toContain('unknown mailstore "nope"');
  });
});

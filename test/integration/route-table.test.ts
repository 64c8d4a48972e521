// Scenario: operators change routing through the Redis table with the holdfast route command.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { sendRaw, send, testMessage } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

describe('the routing table in Redis', () => {
  const fixture = withRelay({ cli: true });
  const { store1, store2 } = fixture.stores;
  const holdfast = fixture.cli;
  /** Where the tests write their routing files. */
  let directory: string;

  beforeAll(() => {
    directory = mkdtempSync(join(tmpdir(), 'holdfast-routes-'));
  });
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('accepts a user once an operator imports a routing file that names them', async () => {
    const { relay } = fixture;
    const before = await sendRaw(relay.port, 'sender@remote.test', ['dave@example.com'], testMessage('before'));
    expect(before[2]).toMatch(/^550 5\.1\.1 /);

    const file = join(directory, 'routes.csv');
    writeFileSync(file, '# moved users\ndave@example.com,store2\nerin@example.com,store1\n');
    const imported = await holdfast('route', 'import', file);
    expect(imported).toMatchObject({ code: 0, stdout: 'loaded 2 entries; the table now holds 2\n' });

    await send(relay.port, 'sender@remote.test', ['dave@example.com'], 'after import');
    await waitFor(() => store2.delivered('dave@example.com').length === 1);
  });

  it('lets a table entry move a user that the config file places elsewhere', async () => {
    const { relay } = fixture;
    expect((await holdfast('route', 'set', 'Alice@Example.com', 'store2')).code).toBe(0);
    expect((await holdfast('route', 'get', 'alice@example.com')).stdout).toBe(
      'alice@example.com -> store2   table: store2   config: store1\n',
    );
    await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'moved alice');
    await waitFor(() => store2.delivered('alice@example.com').length === 1);
    expect(store1.delivered('alice@example.com')).toHaveLength(0);
  });

  it('refuses a whole import with a bad line, loading none of it, and exits 65', async () => {
    const { relay, redis } = fixture;
    const file = join(directory, 'bad.csv');
    writeFileSync(file, 'frank@example.com,store1\nnot a line at all here\ngina@example.com,nowhere\n');
    const result = await holdfast('route', 'import', file, '--replace');
    expect(result.code).toBe(65);
    expect(result.stderr).toContain(`${file}:2: expected "address,mailstore"`);
    expect(result.stderr).toContain('gina@example.com: unknown mailstore "nowhere"');
    expect(await redis.client.hget(createKeys(relay.config.redis.prefix).routes, 'frank@example.com')).toBeNull();
  });

  it('replaces the whole table atomically with --replace', async () => {
    const { relay, redis } = fixture;
    const file = join(directory, 'replacement.csv');
    writeFileSync(file, 'henry@example.com,store2\n');
    expect((await holdfast('route', 'import', file, '--replace')).stdout).toBe(
      'loaded 1 entries; the table now holds 1\n',
    );
    expect(await redis.client.hgetall(createKeys(relay.config.redis.prefix).routes)).toEqual({
      'henry@example.com': 'store2',
    });
  });
});

// Scenario: an operator deletes queued mail in bulk, after a dry run that counts it first.
import { describe, expect, it } from 'vitest';
import { jobCopies } from '../helpers/queued.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

describe('bulk deletion of queued mail', () => {
  const fixture = withRelay({ cli: true, config: { routing: { users: { 'dave@example.com': 'store2' } } } });
  const { store1, store2 } = fixture.stores;
  const { cli } = fixture;

  it('counts with a dry run, deletes exactly that, frees the bodies, and names it in the audit trail', async () => {
    const { relay, redis } = fixture;
    await relay.app.mailstoreAdmin!.hold('store2', { reason: 'broken', by: 'ops' });
    const forBob: string[] = [];
    for (let index = 0; index < 4; index++)
      forBob.push(queueIdOf(await send(relay.port, 'spam@bad.test', ['bob@example.com'], `spam ${index}`)));
    const shared = queueIdOf(
      await send(relay.port, 'spam@bad.test', ['alice@example.com', 'bob@example.com'], 'shared'),
    );
    for (let index = 0; index < 3; index++)
      await send(relay.port, 'friend@good.test', ['dave@example.com'], `keep ${index}`);
    await waitFor(() => store1.delivered('alice@example.com').length === 1); // store1's part of the shared message

    const dryRun = await cli('queue', 'delete', '--store', 'store2', '--sender', 'spam@bad.test', '--dry-run');
    expect(dryRun).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(
        /^would delete 5 messages, \d+ bytes, 1 users \(mailstore=store2 sender=spam@bad.test\)\n$/,
      ) as string,
    });
    expect((await cli('queue', 'list', '--store', 'store2')).stdout).toContain('8 messages');

    expect((await cli('queue', 'delete', '--store', 'store2', '--sender', 'spam@bad.test')).code).toBe(65); // no reason
    const deleted = await cli(
      'queue',
      'delete',
      '--store',
      'store2',
      '--sender',
      'spam@bad.test',
      '--reason',
      'spam run',
      '--by',
      'ops',
    );
    expect(deleted.stdout).toMatch(/^deleted 5 of 5 messages/);
    expect((await cli('queue', 'list', '--store', 'store2')).stdout).toContain('3 messages');
    for (const queueId of [...forBob, shared]) {
      expect(await jobCopies(relay.config.redis.prefix, redis.client, queueId)).toEqual([]);
    }
    const [entry] = JSON.parse((await cli('audit', '--json', '-n', '1')).stdout) as unknown[];
    expect(entry).toMatchObject({
      action: 'delete-messages',
      by: 'ops',
      reason: 'spam run',
      count: 5,
      filter: 'mailstore=store2 sender=spam@bad.test',
    });
    expect((entry as { queueIds: string[] }).queueIds.sort()).toEqual([...forBob, shared].sort());

    await relay.app.mailstoreAdmin!.release('store2', { by: 'ops' });
    await waitFor(() => store2.delivered('dave@example.com').length === 3);
    expect(store2.delivered('bob@example.com')).toHaveLength(0);
  });
});

// Scenario: an operator holds, releases and retries single messages by queue id, and in bulk after a dry run.
import { describe, expect, it } from 'vitest';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';
import { waitForQuietStores } from '../helpers/queued.js';

describe('operator actions on queued messages', () => {
  const fixture = withRelay({
    stores: ['store1', 'store2'],
    down: ['store2'], // store2 is down until a test starts it
    cli: true,
    // store2 retries only hourly: a message deferred there waits unless an operator retries it.
    config: { mailstores: { store2: { retry: '1h', trip: { enabled: false } } } },
  });
  const { store1, store2 } = fixture.stores;
  const { cli } = fixture;

  it('keeps one held message back while the others go, and delivers it at once when released', async () => {
    const { relay } = fixture;
    await relay.app.mailstoreAdmin!.hold('store1', { reason: 'maintenance', by: 'ops' });
    const ids: string[] = [];
    for (const subject of ['first', 'second', 'third']) {
      ids.push(queueIdOf(await send(relay.port, 'sender@remote.test', ['alice@example.com'], subject)));
    }
    const held = await cli('queue', 'hold', '--queue-id', ids[1]!, '--reason', 'customer asked', '--by', 'ops');
    expect(held).toMatchObject({ code: 0, stdout: expect.stringMatching(/^held 1 of 1 messages/) as string });

    await relay.app.mailstoreAdmin!.release('store1', { by: 'ops', rate: 100 });
    await waitFor(() => store1.messages.length === 2);
    await waitForQuietStores(relay, { store1: 1 }); // the held one stays queued, none running
    expect(store1.messages.map((message) => message.body.match(/Subject: (\w+)/)?.[1])).toEqual(['first', 'third']);
    expect((await cli('queue', 'list', '--queue-id', ids[1]!)).stdout).toContain(`${ids[1]}  store1  held`);

    const released = await cli('queue', 'release', '--queue-id', ids[1]!, '--by', 'ops');
    expect(released.stdout).toMatch(/^released 1 of 1 messages/);
    await waitFor(() => store1.messages.length === 3);
    const [entry] = JSON.parse((await cli('audit', '--json', '-n', '2')).stdout) as Array<Record<string, unknown>>;
    expect(entry).toMatchObject({ action: 'release-messages', by: 'ops', queueIds: [ids[1]] });
  });

  it('tries a deferred message now when told to, instead of at its next hourly retry', async () => {
    const { relay } = fixture;
    const queueId = queueIdOf(await send(relay.port, 'sender@remote.test', ['bob@example.com'], 'deferred'));
    await waitFor(async () => (await cli('queue', 'list', '--queue-id', queueId)).stdout.includes('delayed'));
    await store2.start(fixture.ports.store2);
    const retried = await cli('queue', 'retry', '--store', 'store2', '--by', 'ops');
    expect(retried.stdout).toMatch(/^retried 1 of 1 messages/);
    await waitFor(() => store2.delivered('bob@example.com').length === 1);
  });

  it('counts first with a dry run, holds exactly that, and refuses an action with no selection', async () => {
    const { relay } = fixture;
    await relay.app.mailstoreAdmin!.hold('store1', { reason: 'maintenance', by: 'ops' });
    for (let index = 0; index < 3; index++)
      await send(relay.port, 'bulk@remote.test', ['carol@example.com'], `b${index}`);
    await send(relay.port, 'other@remote.test', ['carol@example.com'], 'other');

    const dryRun = await cli('queue', 'hold', '--sender', 'bulk@remote.test', '--dry-run');
    expect(dryRun.stdout).toMatch(/^would hold 3 messages, \d+ bytes, 1 users \(sender=bulk@remote.test\)/);
    expect((await cli('queue', 'hold', '--reason', 'no selection')).code).toBe(65);
    expect((await cli('queue', 'hold', '--sender', 'bulk@remote.test')).code).toBe(65); // no reason
    const done = await cli('queue', 'hold', '--sender', 'bulk@remote.test', '--reason', 'suspected loop');
    expect(done.stdout).toMatch(/^held 3 of 3 messages/);

    const before = store1.messages.length;
    await relay.app.mailstoreAdmin!.release('store1', { by: 'ops', rate: 100 });
    await waitFor(() => store1.messages.length === before + 1);
    await waitForQuietStores(relay, { store1: 3 }); // the three held stay queued, none running
    expect(store1.messages.length).toBe(before + 1); // only "other"
    expect((await cli('queue', 'release', '--all', '--by', 'ops')).stdout).toMatch(/^released 3 of 3 messages/);
    await waitFor(() => store1.messages.length === before + 4);
  });
});

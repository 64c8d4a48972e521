// Scenario: an operator holds a mailstore while mail keeps arriving, then releases it.
import { describe, expect, it } from 'vitest';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';
import { waitForQuietStores } from '../helpers/queued.js';

describe('an operator hold on one mailstore', () => {
  // One connection to store2, so that the order of delivery is the order of the queue.
  const fixture = withRelay({ cli: true, config: { mailstores: { store2: { concurrency: 1 } } } });
  const { store1, store2 } = fixture.stores;
  const { cli } = fixture;

  it('delivers the other store at once, nothing to the held one, and all of it oldest first after release', async () => {
    const { relay } = fixture;
    const held = await cli('hold', 'store2', '--reason', 'disk errors on store2', '--by', 'alice-ops');
    expect(held).toMatchObject({ code: 0, stdout: 'store2 held: disk errors on store2\n' });

    const queued: string[] = [];
    for (let index = 0; index < 5; index++) {
      const reply = await send(
        relay.port,
        'sender@remote.test',
        ['alice@example.com', 'bob@example.com'],
        `held ${index}`,
      );
      expect(reply).toMatch(/^250 2\.0\.0 /); // still accepted while the store is held
      queued.push(queueIdOf(reply));
    }
    await waitFor(() => store1.delivered('alice@example.com').length === 5);
    // store2's five jobs wait, none running: nothing reaches it until the release.
    await waitForQuietStores(fixture.relay, { store1: 0, store2: 5 });
    expect(store2.messages).toHaveLength(0);

    const status = await cli('status', '--json');
    const store2Status = (
      JSON.parse(status.stdout) as Array<{
        mailstore: string;
        state: { kind: string; reason: string };
        counts: { waiting: number };
      }>
    ).find((entry) => entry.mailstore === 'store2');
    expect(store2Status).toMatchObject({
      state: { kind: 'held', reason: 'disk errors on store2' },
      counts: { waiting: 5 },
    });

    expect((await cli('release', 'store2', '--by', 'alice-ops')).code).toBe(0);
    await waitFor(() => store2.messages.length === 5);
    const order = store2.messages.map((message) => /id ([0-9A-Z]+)/.exec(message.body)?.[1]);
    expect(order).toEqual(queued);

    const audit = await cli('audit', '--json');
    expect(JSON.parse(audit.stdout)).toMatchObject([
      { mailstore: 'store2', action: 'release', by: 'alice-ops', from: 'held', to: 'releasing' },
      {
        mailstore: 'store2',
        action: 'hold',
        by: 'alice-ops',
        reason: 'disk errors on store2',
        from: 'open',
        to: 'held',
      },
    ]);
    // The CLI asked this node's admin API, which made the changes and logged them.
    expect(relay.events('MailstoreState').map((record) => record.action)).toEqual(
      expect.arrayContaining(['hold', 'release']) as unknown[],
    );
  });

  it('refuses a hold without a reason, and a release of a store that is not held, with exit code 65', async () => {
    expect((await cli('hold', 'store1', '--reason', ' ')).code).toBe(65);
    const release = await cli('release', 'store1');
    expect(release.code).toBe(65);
    expect(release.stderr).toContain('mailstore store1 is not held');
    expect((await cli('hold', 'nowhere', '--reason', 'x')).stderr).toContain('unknown mailstore "nowhere"');
  });

  it('lifts a hold by itself when its end time comes', async () => {
    expect((await cli('hold', 'store1', '--reason', 'maintenance window', '--until', '10s')).code).toBe(0);
    await send(fixture.relay.port, 'sender@remote.test', ['alice@example.com'], 'during the window');
    const before = store1.messages.length;
    await waitForQuietStores(fixture.relay, { store1: 1 }); // queued, held, none running
    expect(store1.messages.length).toBe(before);
    await waitFor(() => store1.messages.length === before + 1, 25_000, 'delivery after the window');
    const [lifted] = JSON.parse((await cli('audit', '--json', '--limit', '1')).stdout) as Array<
      Record<string, unknown>
    >;
    expect(lifted).toMatchObject({
      mailstore: 'store1',
      action: 'release',
      by: 'holdfast',
      reason: 'hold reached its end time',
    });
  });
});

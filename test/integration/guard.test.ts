// Scenario: a store comes back with an empty mailbox database and calls every user unknown.
import { describe, expect, it } from 'vitest';
import { send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';
import { waitForQuietStores } from '../helpers/queued.js';

const users = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, index) => `${prefix}${index}@example.com`);

describe('the 5xx guard', () => {
  let emptyDatabase = true;
  const first = users('user', 6);
  const second = users('later', 4);
  const fixture = withRelay({
    smarthost: true,
    cli: true,
    config: {
      routing: { users: Object.fromEntries([...first, ...second].map((user) => [user, 'store2'])) },
      mailstores: { store2: { guard: { threshold: 3, window: '30s' } } },
    },
  });
  const { store1, store2 } = fixture.stores;
  const { cli } = fixture;
  store2.replyFor = (recipient) => (emptyDatabase ? `550 5.1.1 <${recipient}>: User unknown` : '250');

  const guarded = () => fixture.relay.events('MailstoreState').filter((record) => record.action === 'guard');

  it('guards the store instead of bouncing, keeps its mail, and delivers all of it after release', async () => {
    const { relay, smarthost } = fixture;
    for (const user of first) await send(relay.port, 'sender@remote.test', ['alice@example.com', user], `for ${user}`);
    await waitFor(() => guarded().length === 1, 20_000, 'the guard');
    expect(guarded()[0]).toMatchObject({
      level: 'error',
      mailstore: 'store2',
      by: 'holdfast',
      from: 'open',
      to: 'guarded',
    });
    await waitFor(() => store1.delivered('alice@example.com').length === 6); // the healthy store is not held up
    await waitForQuietStores(relay, { store2: undefined }); // its mail kept, no attempt running
    expect(smarthost.messages).toHaveLength(0); // zero bounces
    const [, store2Status] = await relay.app.mailstoreAdmin!.status();
    expect(store2Status).toMatchObject({ mailstore: 'store2', state: { kind: 'guarded' } });

    emptyDatabase = false; // the mailboxes database is restored
    await relay.app.mailstoreAdmin!.release('store2', { by: 'ops' });
    await waitFor(() => first.every((user) => store2.delivered(user).length === 1), 20_000, 'every message delivered');
    expect(smarthost.messages).toHaveLength(0);
  });

  it('bounces the kept recipients when the operator confirms the bounces', async () => {
    const { relay, smarthost } = fixture;
    emptyDatabase = true;
    for (const user of second) await send(relay.port, 'sender@remote.test', [user], `for ${user}`);
    await waitFor(() => guarded().length === 2, 20_000, 'the second guard');
    await waitForQuietStores(relay, { store2: undefined });
    expect(smarthost.messages).toHaveLength(0);
    // The recipients the guard kept are bounced on confirmation; one first tried after it would
    // wait out its own window (a new burst may be building) before bouncing.
    const kept = relay
      .events('PermanentFailure')
      .map((record) => record.recipient as string)
      .filter((recipient) => second.includes(recipient));
    expect(kept.length).toBeGreaterThanOrEqual(3);

    const confirmed = await cli('confirm-bounces', 'store2', '--by', 'ops', '--reason', 'users left');
    expect(confirmed).toMatchObject({ code: 0, stdout: 'store2: bounces confirmed, delivery resumed\n' });
    await waitFor(() => smarthost.messages.length >= kept.length, 20_000, 'the confirmed bounces');
    for (const user of kept) {
      expect(smarthost.messages.some((message) => message.body.includes(`Final-Recipient: rfc822; ${user}`))).toBe(
        true,
      );
    }
    const [latest] = JSON.parse((await cli('audit', '--json', '-n', '1')).stdout) as unknown[];
    expect(latest).toMatchObject({
      action: 'confirm-bounces',
      by: 'ops',
      reason: 'users left',
      from: 'guarded',
      to: 'open',
    });
  });
});

// Scenario: a store's backlog over its limit makes RCPT answer 452 for that store's recipients only.
import { describe, expect, it } from 'vitest';
import { send, sendRaw } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

describe('a backlog limit on one mailstore', () => {
  const fixture = withRelay({ config: { mailstores: { store1: { backlogLimit: { messages: 2 } } } } });
  const { store1, store2 } = fixture.stores;

  it('answers 452 for that store while it is over, keeps taking mail for the other, and recovers', async () => {
    const { relay } = fixture;
    const admin = relay.app.mailstoreAdmin!;
    await admin.hold('store1', { reason: 'storage failure', by: 'ops' });
    for (const subject of ['one', 'two']) {
      expect(await send(relay.port, 'sender@remote.test', ['alice@example.com'], subject)).toMatch(/^250/);
    }
    await waitFor(() => relay.events('BacklogLimitReached').length === 1);
    expect(relay.events('BacklogLimitReached')[0]).toMatchObject({ mailstore: 'store1', limits: ['messages'] });

    // One message for both stores: alice's store is full, bob's takes it.
    const replies = await sendRaw(
      relay.port,
      'sender@remote.test',
      ['alice@example.com', 'bob@example.com'],
      'Subject: both\n\nHello.',
    );
    expect(replies[2]).toMatch(/^452 4\.3\.1 /);
    expect(replies[3]).toMatch(/^250 /);
    expect(replies.at(-1)).toMatch(/^250 2\.0\.0 /);
    await waitFor(() => store2.delivered('bob@example.com').length === 1);
    expect((await admin.status()).find((status) => status.mailstore === 'store1')!.backlog.messages).toBe(2);

    await admin.release('store1', { by: 'ops' });
    await waitFor(() => store1.messages.length === 2);
    await waitFor(() => relay.events('BacklogLimitCleared').length === 1);
    expect(await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'three')).toMatch(/^250/);
    await waitFor(() => store1.messages.length === 3);
  });
});

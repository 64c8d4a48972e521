// Scenario: mail for users on two mailstores goes to the right store, once per store, and leaves no keys.
import { describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

describe('routing and delivery to two mailstores', () => {
  const fixture = withRelay();
  const { store1, store2 } = fixture.stores;

  it('delivers each user to the mailstore that holds the mailbox', async () => {
    const { relay } = fixture;
    await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'for alice');
    await send(relay.port, 'sender@remote.test', ['bob@example.com'], 'for bob');
    await waitFor(
      () => store1.delivered('alice@example.com').length === 1 && store2.delivered('bob@example.com').length === 1,
    );
    expect(store1.delivered('bob@example.com')).toHaveLength(0);
    expect(store2.delivered('alice@example.com')).toHaveLength(0);
    expect(store1.delivered('alice@example.com')[0]!.from).toBe('sender@remote.test');
  });

  it('makes exactly one delivery per store for a message with recipients on both', async () => {
    const { relay } = fixture;
    const before1 = store1.messages.length;
    const before2 = store2.messages.length;
    const reply = await send(
      relay.port,
      'sender@remote.test',
      ['alice@example.com', 'carol@example.com', 'bob@example.com'],
      'both',
    );
    const queueId = queueIdOf(reply);
    await waitFor(() => store1.messages.length === before1 + 1 && store2.messages.length === before2 + 1);
    const onStore1 = store1.messages.at(-1)!;
    expect(onStore1.to.sort()).toEqual(['alice@example.com', 'carol@example.com']);
    expect(store2.messages.at(-1)!.to).toEqual(['bob@example.com']);
    expect(onStore1.body).toContain(`id ${queueId}`);
    expect(onStore1.body).toMatch(/^Received: from client\.test|^Received: from /);
    // Give a duplicate delivery the chance to show up before counting.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(store1.messages.length).toBe(before1 + 1);
    expect(store2.messages.length).toBe(before2 + 1);
  });

  it("deletes each job's copy of the message once it ends", async () => {
    const { relay, redis } = fixture;
    const keys = createKeys(relay.config.redis.prefix);
    await waitFor(async () => (await redis.client.keys(keys.jobBody('*', '*'))).length === 0, 10_000, 'copies freed');
    expect(relay.events('Reception')).toHaveLength(3);
    expect(
      relay
        .events('Delivery')
        .map((record) => record.recipient)
        .sort(),
    ).toEqual(
      ['alice@example.com', 'alice@example.com', 'bob@example.com', 'bob@example.com', 'carol@example.com'].sort(),
    );
  });
});

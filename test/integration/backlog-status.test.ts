// Scenario: a store's status shows its backlog (count, bytes, oldest age, mail close to expiry) without reading jobs.
import { describe, expect, it } from 'vitest';
import { send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

const DAY = 86_400_000;

describe('the backlog in a store status (injected clock)', () => {
  /** Days added to the real clock: Holdfast's policy clock moves on while BullMQ's delays stay short. */
  let offset = 0;
  const fixture = withRelay({
    stores: ['store1'],
    down: ['store1'], // nothing listens yet: the store is down
    cli: true,
    config: { mailstores: { store1: { lifetime: '5d', retry: '1s', trip: { enabled: false } } } },
    app: { now: () => Date.now() + offset },
  });
  const { store1: store } = fixture.stores;
  const { cli } = fixture;

  const backlog = async () => (await fixture.relay.app.mailstoreAdmin!.status())[0]!.backlog;

  it('counts the mail, its age, what will expire within a day, and forgets what is delivered or deleted', async () => {
    const { relay } = fixture;
    const port = fixture.ports.store1;
    expect(await backlog()).toMatchObject({ messages: 0, bytes: 0, expiringSoon: 0, expiringWithinSeconds: 86_400 });

    await send(relay.port, 'first@remote.test', ['alice@example.com'], 'the first message');
    offset = 2 * DAY;
    await send(relay.port, 'second@remote.test', ['alice@example.com'], 'the second message');
    const two = await backlog();
    expect(two.messages).toBe(2);
    expect(two.bytes).toBeGreaterThan(2 * 'the first message'.length);
    expect(two.oldestAgeSeconds).toBeGreaterThanOrEqual((2 * DAY) / 1000);
    // The shape, like qshape: one message under 5 minutes old, one older than 1280 minutes.
    expect(two.shape).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    // The store is down: the status says why, once an attempt has failed.
    const failed = async () => (await relay.app.mailstoreAdmin!.status())[0]!.lastError !== undefined;
    await waitFor(failed, 10_000, 'a failed attempt');
    const [status] = await relay.app.mailstoreAdmin!.status();
    expect(status!.lastError?.error).toContain(`127.0.0.1:${port}`);

    offset = 4.5 * DAY; // the first has used 4.5 of its 5 days: in its last day
    expect(await backlog()).toMatchObject({ messages: 2, expiringSoon: 1 });

    // Held time does not count: a day and a half held later, the second is still far from expiry.
    await relay.app.mailstoreAdmin!.hold('store1', { reason: 'storage failure', by: 'ops' });
    offset = 6 * DAY;
    const held = await backlog();
    expect(held).toMatchObject({ messages: 2, expiringSoon: 1 });
    expect(held.oldestAgeSeconds).toBeGreaterThanOrEqual((6 * DAY) / 1000);

    const deleted = await cli('queue', 'delete', '--sender', 'first@remote.test', '--reason', 'test');
    expect(deleted.code, deleted.stdout + deleted.stderr).toBe(0);
    expect(await backlog()).toMatchObject({ messages: 1, expiringSoon: 0 });

    await store.start(port);
    await relay.app.mailstoreAdmin!.release('store1', { by: 'ops' });
    await waitFor(() => store.messages.length === 1);
    await waitFor(async () => (await backlog()).messages === 0);
    expect(await backlog()).toMatchObject({ messages: 0, bytes: 0, expiringSoon: 0 });
    expect((await backlog()).oldestAgeSeconds).toBeUndefined();
  });
});

// Scenario (a failover to another store): a user moves to another store while mail for them is queued.
import { describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';
import { waitForQuietStores } from '../helpers/queued.js';

describe('routing at attempt time', () => {
  const fixture = withRelay();
  const { store1, store2 } = fixture.stores;

  it('delivers mail queued for a user who moved to the new store only, without duplicates or leftovers', async () => {
    const { relay, redis } = fixture;
    const keys = createKeys(relay.config.redis.prefix);
    const admin = relay.app.mailstoreAdmin!;
    await admin.hold('store1', { reason: 'failing over to a replica', by: 'ops' });
    const alone = queueIdOf(await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'alone'));
    const shared = queueIdOf(
      await send(relay.port, 'sender@remote.test', ['alice@example.com', 'carol@example.com'], 'shared'),
    );

    // The operator moves alice in the routing table (what `holdfast route set` does).
    await redis.client.hset(keys.routes, 'alice@example.com', 'store2');
    await admin.release('store1', { by: 'ops' });

    await waitFor(
      () => store2.delivered('alice@example.com').length === 2 && store1.delivered('carol@example.com').length === 1,
    );
    await waitForQuietStores(relay); // every job done: no duplicate can come now
    expect(store1.delivered('alice@example.com')).toHaveLength(0);
    expect(store2.delivered('alice@example.com')).toHaveLength(2);
    expect(store1.messages).toHaveLength(1);
    expect(
      relay
        .events('Rerouted')
        .map((record) => record.queueId)
        .sort(),
    ).toEqual([alone, shared].sort());
    await waitFor(async () => (await redis.client.keys(keys.jobBody('*', '*'))).length === 0, 10_000, 'copies freed');
    // Both stores' backlogs are empty: the moved jobs were listed on store2 and taken off when done.
    const backlogs = await admin.status();
    expect(backlogs.map((status) => [status.mailstore, status.backlog.messages, status.backlog.bytes])).toEqual([
      ['store1', 0, 0],
      ['store2', 0, 0],
    ]);
  });
});

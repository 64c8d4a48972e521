// Scenario: a Redis Cluster losing a shard that has no replica, and a store's slot resharded to
// another primary, each while mail flows for the stores.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { withClusterRelay } from '../helpers/cluster-relay.js';
import { SteadySender, copiesBySubject, countFigures } from '../helpers/steady-sender.js';
import { waitFor } from '../helpers/wait.js';

const STORE_USERS = { store1: 'alice@example.com', store2: 'bob@example.com', store3: 'carol@example.com' } as const;
type Store = keyof typeof STORE_USERS;

function sendersFor(port: number): Record<Store, SteadySender> {
  const entries = Object.entries(STORE_USERS).map(([store, user]) => [
    store,
    new SteadySender(port, 2, 5, user, store),
  ]);
  return Object.fromEntries(entries) as Record<Store, SteadySender>;
}

describe('a shard with no replica down', () => {
  const fixture = withClusterRelay({}, { replicasPerPrimary: 0 });

  it("refuses its store's mail with 451 while the other stores take 250, and loses nothing once it is back", async () => {
    const { cluster, relay, stores } = fixture;
    const senders = sendersFor(relay.port);
    const down = await cluster.primaryForKey(createKeys(relay.config.redis.prefix).mailstoreBacklog('store2'));
    let downAt = 0;
    let backAt = 0;
    try {
      for (const sender of Object.values(senders)) sender.start();
      await waitFor(() => senders.store2.acknowledged().length >= 10, 20_000, '10 for store2 before');
      downAt = Date.now();
      await cluster.kill(down.port);
      await sleep(6000);
      backAt = Date.now();
      await cluster.restart(down.port);
      const restartedAt = Date.now();
      await waitFor(
        () => senders.store2.acknowledged(restartedAt).length >= 5,
        30_000,
        'store2 taking mail again',
      ).catch((error: unknown) => {
        console.info(JSON.stringify(senders.store2.outcomes.slice(-5)));
        console.info(JSON.stringify(relay.logs.filter((r) => r.level !== 'debug' && r.level !== 'info').slice(-6)));
        throw error;
      });
    } finally {
      await Promise.all(Object.values(senders).map((sender) => sender.stop()));
    }
    // A job the down shard's worker held when it died keeps its lock until it lapses (lockDuration,
    // 30 s) and the stalled check (every 15 s) gives it back: its delivery can take that long.
    const undelivered = () =>
      senders.store2.acknowledged().filter((outcome) => !copiesBySubject(stores.store2).has(outcome.subject));
    await waitFor(() => undelivered().length === 0, 90_000, 'store2 mail delivered').catch(() => undefined);
    const during = (store: Store) => senders[store].outcomes.filter((o) => o.at > downAt + 2500 && o.at < backAt);
    const figures = Object.fromEntries(
      await Promise.all(
        (Object.keys(STORE_USERS) as Store[]).map(async (store) => {
          const { missing, ...counted } = await countFigures(senders[store], stores[store]);
          const whileDown = during(store);
          const accepted = whileDown.filter((o) => o.reply.startsWith('250')).length;
          return [store, { ...counted, missing, whileDown: { sent: whileDown.length, accepted } }] as const;
        }),
      ),
    );
    console.info(`cluster shard down: ${JSON.stringify(figures)}`);
    // While the shard was down (past the first seconds, when commits still waited on it), its store's
    // mail was refused and the others' accepted.
    expect(figures.store2!.whileDown.sent).toBeGreaterThan(0);
    expect(figures.store2!.whileDown.accepted).toBe(0);
    for (const store of ['store1', 'store3'] as const) {
      expect(figures[store]!.whileDown.sent).toBeGreaterThan(0);
      expect(figures[store]!.whileDown.accepted).toBe(figures[store]!.whileDown.sent);
    }
    for (const store of Object.keys(STORE_USERS) as Store[]) expect(figures[store]!.missing).toEqual([]);
  }, 180_000);
});

describe("a store's slot resharded to another primary", () => {
  const fixture = withClusterRelay();

  it('with redis-cli while its mail arrives and is delivered: nothing lost, nothing stuck, nothing left behind', async () => {
    const { cluster, relay, stores } = fixture;
    const keys = createKeys(relay.config.redis.prefix);
    const senders = sendersFor(relay.port);
    const from = await cluster.primaryForKey(keys.mailstoreBacklog('store2'));
    const to = await cluster.primaryForKey(keys.mailstoreBacklog('store1'));
    const slot = Number(await cluster.client.cluster('KEYSLOT', keys.mailstoreBacklog('store2')));
    // redis-cli moves the source's lowest slots: as many as it takes to include store2's.
    const count = (await cluster.slotsOf(from.port)).filter((owned) => owned <= slot).length;
    let reshard: { slots: number[]; ms: number } | undefined;
    try {
      for (const sender of Object.values(senders)) sender.start();
      await waitFor(() => senders.store2.acknowledged().length >= 10, 20_000, '10 for store2 before');
      reshard = await cluster.reshard({ from: from.port, to: to.port, count });
      const movedAt = Date.now();
      await waitFor(() => senders.store2.acknowledged(movedAt).length >= 10, 30_000, '10 for store2 after');
    } finally {
      await Promise.all(Object.values(senders).map((sender) => sender.stop()));
    }
    expect(reshard.slots).toContain(slot);
    expect((await cluster.primaryForKey(keys.mailstoreBacklog('store2'))).port).toBe(to.port);
    expect(from.port).not.toBe(to.port);
    const figures = Object.fromEntries(
      await Promise.all(
        (Object.keys(STORE_USERS) as Store[]).map(
          async (store) => [store, await countFigures(senders[store], stores[store])] as const,
        ),
      ),
    );
    console.info(`cluster reshard: ${JSON.stringify({ ms: reshard.ms, slots: reshard.slots.length, ...figures })}`);
    for (const store of Object.keys(STORE_USERS) as Store[]) {
      // countFigures waits up to 30 s for every acknowledged message: none may still be missing.
      expect(figures[store]!.missing).toEqual([]);
      expect(figures[store]!.duplicated).toBeLessThanOrEqual(3);
    }
    // Nothing stuck: store2's backlog empties on its new primary, and nothing of it stayed on the old one.
    await waitFor(
      async () => (await cluster.client.zcard(keys.mailstoreBacklog('store2'))) === 0,
      20_000,
      'backlog empty',
    );
    expect(await cluster.nodeClient(from.port).keys(`*{store2}*`)).toEqual([]);
  }, 180_000);
});

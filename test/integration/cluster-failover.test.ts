// Scenario: Holdfast on a Redis Cluster (3 primaries, 3 replicas), without and with `replicas: 1`; the primary
// of store2's shard is SIGKILLed under a steady stream of mail for all three stores.
import { describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { withClusterRelay, type ClusterRelayFixture } from '../helpers/cluster-relay.js';
import { SteadySender, countFigures } from '../helpers/steady-sender.js';
import { waitFor } from '../helpers/wait.js';

const STORES = ['store1', 'store2', 'store3'] as const;

/**
 * Two sessions of steady mail for each store (one per shard); once store2 has 20 acknowledged, its
 * shard's primary is SIGKILLed and its replica promoted; then `afterFailover` runs, and the senders
 * stop. Returns each store's figures, with `extra` added to each, and when the kill and failover were.
 */
async function killStore2PrimaryUnderLoad(
  fixture: ClusterRelayFixture,
  afterFailover: (context: {
    senders: Record<string, SteadySender>;
    victimPort: number;
    failedOverAt: number;
  }) => Promise<void>,
  extra: (sender: SteadySender, killedAt: number) => Record<string, number> = () => ({}),
) {
  const { cluster, relay, stores } = fixture;
  const senders = {
    store1: new SteadySender(relay.port, 2, 5, 'alice@example.com', 'one'),
    store2: new SteadySender(relay.port, 2, 5, 'bob@example.com', 'two'),
    store3: new SteadySender(relay.port, 2, 5, 'carol@example.com', 'three'),
  };
  const victim = await cluster.primaryForKey(createKeys(relay.config.redis.prefix).mailstoreBacklog('store2'));
  let killedAt = 0;
  let failoverMs: number | undefined;
  try {
    for (const sender of Object.values(senders)) sender.start();
    await waitFor(() => senders.store2.acknowledged().length >= 20, 20_000, '20 for store2 before the kill');
    killedAt = Date.now();
    await cluster.kill(victim.port);
    failoverMs = await cluster.waitForFailover(victim.port);
    await afterFailover({ senders, victimPort: victim.port, failedOverAt: killedAt + failoverMs });
  } finally {
    await Promise.all(Object.values(senders).map((sender) => sender.stop()));
  }
  const figures = Object.fromEntries(
    await Promise.all(
      STORES.map(async (id) => {
        const counted = await countFigures(senders[id], stores[id]);
        const refusedSinceKill = senders[id].outcomes.filter((o) => o.at >= killedAt && !o.reply.startsWith('250'));
        return [id, { ...counted, refusedSinceKill: refusedSinceKill.length, ...extra(senders[id], killedAt) }];
      }),
    ),
  ) as Record<(typeof STORES)[number], Awaited<ReturnType<typeof countFigures>> & Record<string, number>>;
  return { figures, killedAt, failoverMs, victimPort: victim.port };
}

describe('a primary of the Cluster killed under load', () => {
  const fixture = withClusterRelay();

  it("promotes its replica; the other shards' stores take and deliver mail throughout, nothing is lost", async () => {
    // The routing table may live on the killed shard: lookups answer from each node's last read.
    const { figures, failoverMs } = await killStore2PrimaryUnderLoad(
      fixture,
      async ({ senders, failedOverAt }) => {
        await waitFor(() => senders.store2!.acknowledged(failedOverAt).length >= 20, 30_000, '20 for store2 after');
      },
      (sender, killedAt) => sender.refusals(killedAt),
    );
    console.info(`cluster primary killed: ${JSON.stringify({ failoverMs, ...figures })}`);
    // From the kill on, the other shards never refused, and nothing acknowledged anywhere was lost.
    expect(figures.store1.refusedSinceKill).toBe(0);
    expect(figures.store3.refusedSinceKill).toBe(0);
    for (const id of STORES) expect(figures[id].missing).toEqual([]);
    expect(figures.store2.duplicated).toBeLessThanOrEqual(3);
  }, 180_000);
});

describe('a primary of the Cluster killed under load, with replicas: 1', () => {
  const fixture = withClusterRelay({ replicas: 1, replicaTimeout: '1s' });

  it("loses nothing acknowledged; its shard's stores wait for a replica again while the others take mail throughout", async () => {
    // From store2's first refusal after the promotion to the old primary's restart: its shard has
    // no replica, so no 250 for store2 may come.
    let refusingFrom = 0;
    let restartedAt = 0;
    let rejoinedAt = 0;
    const { figures, failoverMs, killedAt, victimPort } = await killStore2PrimaryUnderLoad(
      fixture,
      async ({ senders, victimPort: port, failedOverAt }) => {
        const refusedSincePromotion = () =>
          senders.store2!.outcomes.filter((o) => o.at > failedOverAt && o.reply.startsWith('451'));
        await waitFor(
          () => refusedSincePromotion().length >= 5,
          20_000,
          'store2 refused while its shard has no replica',
        );
        refusingFrom = refusedSincePromotion()[0]!.at;
        // The killed node comes back as the replica of the promoted one (a 250 may come as soon as
        // it is in sync, before restart() has seen the whole Cluster settle).
        restartedAt = Date.now();
        await fixture.cluster.restart(port);
        rejoinedAt = Date.now();
        await waitFor(() => senders.store2!.acknowledged(rejoinedAt).length >= 20, 30_000, '20 for store2 after');
      },
      (sender) => ({
        acceptedWithoutReplica: sender.outcomes.filter(
          (o) => o.at >= refusingFrom && o.at < restartedAt && o.reply.startsWith('250'),
        ).length,
      }),
    );
    expect(fixture.cluster.node(victimPort).role).toBe('replica');
    console.info(
      `cluster primary killed, replicas 1: ${JSON.stringify({ failoverMs, rejoinMs: rejoinedAt - killedAt, ...figures })}`,
    );
    expect(figures.store1.refusedSinceKill).toBe(0);
    expect(figures.store3.refusedSinceKill).toBe(0);
    // Once refused for want of a replica, no 250 for store2 until the old primary was started again.
    expect(figures.store2.acceptedWithoutReplica).toBe(0);
    for (const id of STORES) expect(figures[id].missing).toEqual([]);
    expect(figures.store2.duplicated).toBeLessThanOrEqual(3);
  }, 180_000);
});

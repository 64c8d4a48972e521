// Scenario: Holdfast on a Redis Cluster (3 primaries, 3 replicas, no `replicas` setting); the primary
// of store2's shard is SIGKILLed under a steady stream of mail for all three stores.
import { describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { withClusterRelay } from '../helpers/cluster-relay.js';
import { SteadySender, countFigures } from '../helpers/steady-sender.js';
import { waitFor } from '../helpers/wait.js';

describe('a primary of the Cluster killed under load', () => {
  const fixture = withClusterRelay();

  it("promotes its replica; the other shards' stores take and deliver mail throughout, nothing is lost", async () => {
    // The routing table may live on the killed shard: lookups answer from each node's last read.
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
      const promotedAt = Date.now();
      await waitFor(() => senders.store2.acknowledged(promotedAt).length >= 20, 30_000, '20 for store2 after');
    } finally {
      await Promise.all(Object.values(senders).map((sender) => sender.stop()));
    }
    const figures = Object.fromEntries(
      await Promise.all(
        (['store1', 'store2', 'store3'] as const).map(async (id) => {
          const { missing, ...counted } = await countFigures(senders[id], stores[id]);
          const refusedSinceKill = senders[id].outcomes.filter((o) => o.at >= killedAt && !o.reply.startsWith('250'));
          return [
            id,
            { ...counted, missing, refusedSinceKill: refusedSinceKill.length, ...senders[id].refusals(killedAt) },
          ] as const;
        }),
      ),
    );
    console.info(`cluster primary killed: ${JSON.stringify({ failoverMs, ...figures })}`);
    // From the kill on, the other shards never refused, and nothing acknowledged anywhere was lost.
    expect(figures.store1!.refusedSinceKill).toBe(0);
    expect(figures.store3!.refusedSinceKill).toBe(0);
    for (const id of ['store1', 'store2', 'store3'] as const) expect(figures[id]!.missing).toEqual([]);
    expect(figures.store2!.duplicated).toBeLessThanOrEqual(3);
  }, 180_000);
});

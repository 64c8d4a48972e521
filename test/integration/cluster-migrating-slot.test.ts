// Scenario: a store's slot half-way through a migration between two Cluster primaries (some of its
// keys moved, others not yet), and the reads a delivery makes of a queued job.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createKeys } from '../../src/queue/keys.js';
import { Spool } from '../../src/queue/spool.js';
import { createRedis } from '../../src/redis/connections.js';
import { startTestCluster, type TestCluster } from '../helpers/redis-cluster.js';

describe("a store's slot while it migrates", () => {
  let cluster: TestCluster;
  let redis: Redis;
  const keys = createKeys('hfmig');

  beforeAll(async () => {
    cluster = await startTestCluster({ replicasPerPrimary: 0 });
    redis = createRedis({ cluster: cluster.startupNodes }, 'control', 2000);
  }, 60_000);

  afterAll(async () => {
    redis?.disconnect();
    await cluster?.cleanup();
  });

  it('a queued job whose body has not moved yet still reads as pending, with its body', async () => {
    const job = { queueId: 'Q1', mailstore: 'store2', jobId: 'Q1', size: 5, ownCopy: true };
    const bodyKey = keys.jobBody('store2', 'Q1');
    await redis.set(bodyKey, 'hello');
    const slot = Number(await redis.cluster('KEYSLOT', bodyKey));
    const source = await cluster.primaryForSlot(slot);
    const target = cluster.primaries().find((node) => node.port !== source.port)!;
    // The slot's migration begun, none of its keys moved: the body is on the source, and the store's
    // held set (which does not exist) answers with an ASK redirection there.
    await cluster.nodeClient(target.port).call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', cluster.node(source.port).id);
    await cluster.nodeClient(source.port).call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', cluster.node(target.port).id);
    try {
      const taken = await new Spool(redis, keys, 2000).take(job);
      expect(taken.pending).toBe(true);
      expect(taken.body?.toString()).toBe('hello');
    } finally {
      for (const node of [source, target])
        await cluster.nodeClient(node.port).call('CLUSTER', 'SETSLOT', slot, 'STABLE');
    }
  });
});

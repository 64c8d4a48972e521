// A relay on a real Redis Cluster (3 primaries, 3 replicas) with three in-process stores, one per
// shard (store1, store2 and store3 hash to three different primaries' slots), for a describe block.
import { afterAll, beforeAll } from 'vitest';
import { FakeMailstore } from './mailstore.js';
import { startTestCluster, type TestCluster } from './redis-cluster.js';
import { startRelay, testConfig, type TestRelay, type Raw } from './relay.js';

export const CLUSTER_STORES = ['store1', 'store2', 'store3'] as const;
export type ClusterStore = (typeof CLUSTER_STORES)[number];

export interface ClusterRelayFixture {
  readonly cluster: TestCluster;
  readonly relay: TestRelay;
  readonly stores: Readonly<Record<ClusterStore, FakeMailstore>>;
}

/**
 * alice on store1, bob on store2, carol on store3; `redis` settings merged in beside the cluster's
 * nodes; `replicasPerPrimary` 1 unless given.
 */
export function withClusterRelay(redis: Raw = {}, options: { replicasPerPrimary?: number } = {}): ClusterRelayFixture {
  const stores = Object.fromEntries(CLUSTER_STORES.map((id) => [id, new FakeMailstore()])) as Record<
    ClusterStore,
    FakeMailstore
  >;
  let cluster: TestCluster | undefined;
  let relay: TestRelay | undefined;

  beforeAll(async () => {
    cluster = await startTestCluster(options);
    const ports: Record<string, number> = {};
    for (const id of CLUSTER_STORES) ports[id] = await stores[id].start();
    const config = testConfig(undefined, ports, {
      redis: { cluster: { nodes: cluster.startupNodes }, ...redis },
      routing: { users: { 'carol@example.com': 'store3' } },
      // Six redis-servers fsyncing every write share the test machine's cores with the rest of the
      // suite: a commit may take longer than the single-Redis tests' 2 s.
      limits: { timeouts: { enqueue: '10s' } },
    });
    relay = await startRelay(config);
  }, 60_000);

  afterAll(async () => {
    await relay?.app.stop();
    await Promise.all(CLUSTER_STORES.map((id) => stores[id].stop()));
    await cluster?.cleanup();
  });

  return {
    get cluster() {
      return cluster!;
    },
    get relay() {
      return relay!;
    },
    stores,
  };
}

// Scenario: Holdfast on a Redis Cluster with `replicas: 1`: a 250 waits for the replica of every
// shard the message went to, and a shard whose replica does not answer gets mail refused.
import { describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { CLUSTER_STORES, withClusterRelay } from '../helpers/cluster-relay.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';

const STORES = CLUSTER_STORES;
const EVERYONE = ['alice@example.com', 'bob@example.com', 'carol@example.com'];

describe('Holdfast on a Redis Cluster with replicas: 1', () => {
  const fixture = withClusterRelay({ replicas: 1, replicaTimeout: '1s' });
  const { stores } = fixture;

  it("answers 250 for a message for three shards once each shard's replica has its store's part", async () => {
    const { cluster, relay } = fixture;
    const admin = relay.app.mailstoreAdmin!;
    for (const id of STORES) await admin.hold(id, { reason: 'to look at the replicas', by: 'test' });
    // As a sender would, tried again after a 451 (on a loaded machine a replica can miss the WAIT).
    let reply = '';
    await waitFor(async () => {
      reply = await send(relay.port, 'sender@remote.test', EVERYONE, 'replicated').catch(() => '');
      return reply.startsWith('250');
    }, 20_000);
    const queueId = queueIdOf(reply);
    const keys = createKeys(relay.config.redis.prefix);
    for (const id of STORES) {
      const copy = keys.jobBody(id, queueId);
      const primary = await cluster.primaryForKey(copy);
      const [replica] = cluster.replicasOf(primary.port);
      const client = cluster.nodeClient(replica!.port);
      await client.call('READONLY');
      expect(await client.exists(copy)).toBe(1);
    }
    for (const id of STORES) await admin.release(id, { by: 'test' });
    await waitFor(() => STORES.every((id) => stores[id].messages.some((message) => message.body.includes(queueId))));
  });

  it("refuses its stores' mail with 451 while a shard's replica does not answer, the others' not, and takes it again once it does", async () => {
    const { cluster, relay } = fixture;
    const keys = createKeys(relay.config.redis.prefix);
    const primary = await cluster.primaryForKey(keys.mailstoreBacklog('store2'));
    const [replica] = cluster.replicasOf(primary.port);
    process.kill(replica!.pid!, 'SIGSTOP');
    try {
      await expect(send(relay.port, 'sender@remote.test', ['bob@example.com'], 'unreplicated')).rejects.toThrow(
        /451 4\.3\.0/,
      );
      await waitFor(() =>
        relay.events('CommitsRefused').some((record) => record.shard === `127.0.0.1:${primary.port}`),
      );
      expect(
        relay.events('CommitsRefused').filter((record) => record.shard === `127.0.0.1:${primary.port}`),
      ).toMatchObject([{ reason: 'REDIS_REPLICAS_LAGGING', shard: `127.0.0.1:${primary.port}` }]);
      // The other shards' stores take mail meanwhile: each shard has its own gate.
      expect(await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'other shard')).toMatch(/^250 /);
      await expect(send(relay.port, 'sender@remote.test', ['bob@example.com'], 'still not')).rejects.toThrow(
        /451 4\.3\.0/,
      );
    } finally {
      process.kill(replica!.pid!, 'SIGCONT');
    }
    await waitFor(
      async () =>
        (await send(relay.port, 'sender@remote.test', ['bob@example.com'], 'again').catch(() => '')).startsWith('250'),
      20_000,
      'a 250 again',
    );
  });
});

// Scenario: the test harness's Redis Cluster (three primaries with a replica each) does what a sharded Holdfast will need.
import { afterEach, describe, expect, it } from 'vitest';
import {
  CLUSTER_SLOTS,
  keySlot,
  parseClusterNodes,
  startTestCluster,
  type TestCluster,
} from '../helpers/redis-cluster.js';
import { waitFor } from '../helpers/wait.js';

/** Twenty mailstores' hash tags: {store-a} ... {store-t}. */
const TAGS = Array.from({ length: 20 }, (_, index) => `{store-${String.fromCharCode(97 + index)}}`);

const info = (text: unknown) =>
  Object.fromEntries(
    String(text)
      .split('\r\n')
      .filter((line) => line.includes(':'))
      .map((line) => line.split(':') as [string, string]),
  );

describe('a Redis Cluster for tests', () => {
  let cluster: TestCluster | undefined;

  afterEach(async () => {
    await cluster?.cleanup();
    cluster = undefined;
  });

  it('starts three primaries with a replica each, every slot covered, fsyncing every write', async () => {
    cluster = await startTestCluster();
    console.info(`cluster startup: ${cluster.startupMs} ms`);
    expect(cluster.nodes).toHaveLength(6);
    const primaries = cluster.primaries();
    expect(primaries).toHaveLength(3);
    for (const primary of primaries) expect(cluster.replicasOf(primary.port)).toHaveLength(1);
    expect(new Set(cluster.nodes.map((node) => node.pid)).size).toBe(6);

    for (const node of cluster.nodes) {
      const client = cluster.nodeClient(node.port);
      expect(info(await client.call('CLUSTER', 'INFO'))).toMatchObject({
        cluster_state: 'ok',
        cluster_slots_assigned: String(CLUSTER_SLOTS),
        cluster_slots_ok: String(CLUSTER_SLOTS),
        cluster_known_nodes: '6',
        cluster_size: '3',
      });
      expect(await client.call('CONFIG', 'GET', 'appendfsync')).toEqual(['appendfsync', 'always']);
      expect(await client.call('CONFIG', 'GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await client.call('CONFIG', 'GET', 'cluster-require-full-coverage')).toEqual([
        'cluster-require-full-coverage',
        'no',
      ]);
      expect(node.dir).toContain('holdfast-cluster-');
    }

    const lines = parseClusterNodes(String(await cluster.nodeClient(primaries[0]!.port).call('CLUSTER', 'NODES')));
    const masters = lines.filter((line) => line.flags.includes('master'));
    const slaves = lines.filter((line) => line.flags.includes('slave'));
    expect(masters).toHaveLength(3);
    expect(masters.reduce((sum, line) => sum + line.slots.reduce((n, [low, high]) => n + high - low + 1, 0), 0)).toBe(
      CLUSTER_SLOTS,
    );
    expect(new Set(slaves.map((line) => line.primaryId))).toEqual(new Set(masters.map((line) => line.id)));
  });

  it('keys with the same hash tag land on one primary, different tags spread over the primaries', async () => {
    cluster = await startTestCluster();
    const { client } = cluster;
    const used = new Set<number>();
    for (const tag of TAGS) {
      const keys = [`${tag}:msg:1`, `${tag}:queue`, `holdfast:${tag}:meta`];
      expect(new Set(keys.map(keySlot)).size).toBe(1);
      expect(await client.call('CLUSTER', 'KEYSLOT', keys[2]!)).toBe(keySlot(keys[2]!));
      await Promise.all(keys.map((key) => client.set(key, tag)));
      const primary = await cluster.primaryForKey(keys[0]!);
      used.add(primary.port);
      // On the primary's own connection: no MOVED, the keys are there.
      expect(await cluster.nodeClient(primary.port).mget(keys)).toEqual([tag, tag, tag]);
    }
    expect(used.size).toBeGreaterThanOrEqual(2);
  });

  it('a MULTI and a Lua script over keys of one hash tag run on the cluster; a command over two slots is refused with CROSSSLOT', async () => {
    cluster = await startTestCluster();
    const { client } = cluster;
    const [a, b] = [TAGS[0]!, TAGS[1]!];
    expect(keySlot(a)).not.toBe(keySlot(b));

    const results = await client
      .multi()
      .set(`${a}:msg:1`, 'body')
      .rpush(`${a}:queue`, '1')
      .hset(`${a}:meta`, 'count', '1')
      .exec();
    expect(results).toEqual([
      [null, 'OK'],
      [null, 1],
      [null, 1],
    ]);

    client.defineCommand('moveToDone', {
      numberOfKeys: 2,
      lua: "local id = redis.call('LPOP', KEYS[1]); redis.call('RPUSH', KEYS[2], id); return id",
    });
    const moveToDone = (...args: string[]) =>
      (client as unknown as { moveToDone(...args: string[]): Promise<string> }).moveToDone(...args);
    expect(await moveToDone(`${a}:queue`, `${a}:done`)).toBe('1');
    expect(await client.lrange(`${a}:done`, 0, -1)).toEqual(['1']);

    await expect(client.mset(`${a}:x`, '1', `${b}:x`, '2')).rejects.toThrow(/CROSSSLOT/);
    await expect(client.eval("return redis.call('SET', KEYS[2], 'x')", 2, `${a}:y`, `${b}:y`)).rejects.toThrow(
      /CROSSSLOT/,
    );
    await expect(moveToDone(`${a}:done`, `${b}:done`)).rejects.toThrow(/CROSSSLOT/);
    expect(await client.exists(`${a}:x`)).toBe(0);
    expect(await client.exists(`${b}:x`, `${b}:y`, `${b}:done`)).toBe(0);
    expect(await client.lrange(`${a}:done`, 0, -1)).toEqual(['1']);
  });

  it('a primary killed with SIGKILL is replaced by its replica, and a write acknowledged before the kill is still there', async () => {
    cluster = await startTestCluster();
    const key = `${TAGS[0]!}:msg:1`;
    const old = await cluster.primaryForKey(key);
    const [replica] = cluster.replicasOf(old.port);
    // On the connection that wrote: WAIT returns once the replica has it.
    const direct = cluster.nodeClient(old.port);
    await direct.set(key, 'acknowledged');
    expect(await direct.call('WAIT', 1, 5000)).toBe(1);

    await cluster.kill(old.port);
    const failoverMs = await cluster.waitForFailover(old.port);
    console.info(`cluster failover: ${failoverMs} ms`);
    expect((await cluster.primaryForKey(key)).port).toBe(replica!.port);
    expect(cluster.node(replica!.port).role).toBe('primary');
    expect(await cluster.client.get(key)).toBe('acknowledged');
    await cluster.client.set(key, 'after');
    expect(await cluster.nodeClient(replica!.port).get(key)).toBe('after');
  });

  it('a slot moved by resharding keeps its keys, and the ioredis Cluster client follows it', async () => {
    cluster = await startTestCluster();
    const { client } = cluster;
    const tag = TAGS[0]!;
    const slot = keySlot(tag);
    const keys = Array.from({ length: 50 }, (_, index) => `${tag}:msg:${index}`);
    await Promise.all(keys.map((key) => client.set(key, key)));
    // Keys over every slot, for the redis-cli reshard below.
    const spread = Array.from({ length: 2000 }, (_, index) => `msg:${index}`);
    await Promise.all(spread.map((key) => client.set(key, key)));

    const source = await cluster.primaryForSlot(slot);
    const target = cluster.primaries().find((node) => node.port !== source.port)!;
    const moveMs = await cluster.moveSlot(slot, target.port);
    expect((await cluster.primaryForKey(keys[0]!)).port).toBe(target.port);
    expect(await cluster.nodeClient(target.port).call('CLUSTER', 'COUNTKEYSINSLOT', slot)).toBe(50);
    expect(await cluster.nodeClient(source.port).call('CLUSTER', 'COUNTKEYSINSLOT', slot)).toBe(0);
    expect(await client.mget(keys)).toEqual(keys);
    await client.set(`${tag}:msg:new`, 'new');
    expect(await cluster.nodeClient(target.port).get(`${tag}:msg:new`)).toBe('new');

    const { slots, ms: reshardMs } = await cluster.reshard({ from: target.port, to: source.port, count: 100 });
    console.info(`cluster moveSlot: ${moveMs} ms; redis-cli reshard of 100 slots: ${reshardMs} ms`);
    expect(slots).toHaveLength(100);
    for (const moved of [slots[0]!, slots[99]!]) expect((await cluster.primaryForSlot(moved)).port).toBe(source.port);
    const inMoved = spread.filter((key) => slots.includes(keySlot(key)));
    expect(inMoved.length).toBeGreaterThan(0);
    expect(await Promise.all(spread.map((key) => client.get(key)))).toEqual(spread);
  });

  it('with a whole shard down the other shards keep serving, and that shard serves again once its nodes restart', async () => {
    cluster = await startTestCluster();
    const { client } = cluster;
    const deadKey = `${TAGS[0]!}:msg:1`;
    const primary = await cluster.primaryForKey(deadKey);
    const [replica] = cluster.replicasOf(primary.port);
    await client.set(deadKey, 'kept on disk');
    const alive: string[] = [];
    for (const tag of TAGS) if ((await cluster.primaryForKey(tag)).port !== primary.port) alive.push(tag);
    expect(alive.length).toBeGreaterThan(0);

    await cluster.stop(replica!.port);
    await cluster.kill(primary.port);
    // Once the others have marked it failed: with cluster-require-full-coverage yes, the whole cluster would stop here.
    await waitFor(
      async () => {
        const views = await cluster!.views();
        return [...views.values()].every((lines) =>
          lines.some((line) => line.port === primary.port && line.flags.includes('fail')),
        );
      },
      20_000,
      'the primary marked as failed',
    );
    for (const node of cluster.nodes.filter((candidate) => candidate.running)) {
      expect(info(await cluster.nodeClient(node.port).call('CLUSTER', 'INFO')).cluster_state).toBe('ok');
    }
    for (const tag of alive) {
      await client.set(`${tag}:during`, 'served');
      expect(await client.get(`${tag}:during`)).toBe('served');
    }
    const survivor = cluster.primaries().find((node) => node.port !== primary.port)!;
    await expect(cluster.nodeClient(survivor.port).get(deadKey)).rejects.toThrow(/MOVED|CLUSTERDOWN/);

    await cluster.restart(primary.port);
    await cluster.restart(replica!.port);
    expect(await client.get(deadKey)).toBe('kept on disk');
    expect(cluster.node(replica!.port).primaryPort).toBe(primary.port);
  });
});

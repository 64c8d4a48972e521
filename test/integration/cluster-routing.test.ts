// Scenario: Holdfast on a real Redis Cluster (3 primaries, 3 replicas), three stores on three shards.
import { describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { CommitGate } from '../../src/redis/commit-gate.js';
import { createRedis } from '../../src/redis/connections.js';
import { checkTopology } from '../../src/redis/durability.js';
import { createLogger } from '../../src/observability/logger.js';
import { CLUSTER_STORES, withClusterRelay } from '../helpers/cluster-relay.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { waitForQuietStores } from '../helpers/queued.js';

const STORES = CLUSTER_STORES;

describe('Holdfast on a Redis Cluster', () => {
  const fixture = withClusterRelay();
  const { stores } = fixture;

  it('keeps each store on a shard of its own: all its keys in its slot', async () => {
    const { cluster, relay } = fixture;
    const keys = createKeys(relay.config.redis.prefix);
    const primaries = await Promise.all(
      STORES.map(async (id) => (await cluster.primaryForKey(keys.mailstoreBacklog(id))).port),
    );
    expect(new Set(primaries).size).toBe(3);
    const queueId = queueIdOf(await send(relay.port, 'sender@remote.test', ['bob@example.com'], 'where'));
    await waitFor(() => stores.store2.delivered('bob@example.com').length === 1);
    // Every key of store2 that Redis holds is on store2's primary.
    const names = (await cluster.nodeClient(primaries[1]!).keys(`${relay.config.redis.prefix}:{store2}:*`)).length;
    expect(names).toBeGreaterThan(0);
    for (const port of [primaries[0]!, primaries[2]!]) {
      expect(await cluster.nodeClient(port).keys(`${relay.config.redis.prefix}:{store2}:*`)).toEqual([]);
    }
    expect(queueId).toMatch(/^[0-9A-Z]+$/);
  });

  it('delivers mail for stores on different shards, and a message for all three, once to each', async () => {
    const { relay } = fixture;
    for (const [recipient, subject] of [
      ['alice@example.com', 'to one'],
      ['bob@example.com', 'to two'],
      ['carol@example.com', 'to three'],
    ] as const) {
      await send(relay.port, 'sender@remote.test', [recipient], subject);
    }
    const everyone = ['alice@example.com', 'bob@example.com', 'carol@example.com'];
    const shared = queueIdOf(await send(relay.port, 'sender@remote.test', everyone, 'to all'));
    await waitFor(() => stores.store1.delivered('alice@example.com').length === 2);
    await waitFor(() => stores.store3.delivered('carol@example.com').length === 2);
    await waitFor(() => stores.store2.delivered('bob@example.com').length >= 2);
    await waitForQuietStores(fixture.relay); // every job done: no duplicate can come now
    expect(stores.store1.messages.filter((message) => message.body.includes(shared))).toHaveLength(1);
    expect(stores.store2.messages.filter((message) => message.body.includes(shared))).toHaveLength(1);
    expect(stores.store3.messages.filter((message) => message.body.includes(shared))).toHaveLength(1);
    const trace = await relay.app.traceAdmin!.lookup({ queueId: shared });
    const kinds = trace[0]!.events.map((event) => event.kind);
    expect(kinds[0]).toBe('accepted');
    await waitFor(
      async () =>
        ((await relay.app.traceAdmin!.lookup({ queueId: shared }))[0]?.events ?? []).filter(
          (event) => event.kind === 'delivered',
        ).length === 3,
    );
  });

  it('holds a store on one shard while the others deliver, and releases it', async () => {
    const { relay } = fixture;
    const admin = relay.app.mailstoreAdmin!;
    await admin.hold('store3', { reason: 'disk replaced', by: 'ops' });
    await send(relay.port, 'sender@remote.test', ['carol@example.com'], 'while held');
    const before = stores.store1.delivered('alice@example.com').length;
    await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'meanwhile');
    await waitFor(() => stores.store1.delivered('alice@example.com').length === before + 1);
    const status = await admin.status();
    expect(status.find((entry) => entry.mailstore === 'store3')).toMatchObject({
      state: { kind: 'held' },
      backlog: { messages: 1 },
    });
    const held = stores.store3.delivered('carol@example.com').length;
    await admin.release('store3', { by: 'ops' });
    await waitFor(() => stores.store3.delivered('carol@example.com').length === held + 1);
    // The store's audit trail lives in its slot; read merged, newest first.
    const actions = (await admin.audit(20)).map((entry) => entry.action);
    expect(actions.indexOf('release')).toBeGreaterThanOrEqual(0);
    expect(actions.indexOf('release')).toBeLessThan(actions.indexOf('hold'));
  });

  it("moves a held store's queued mail to a store on another shard, and replays a store's retained copies", async () => {
    const { relay } = fixture;
    const admin = relay.app.mailstoreAdmin!;
    const ops = { by: 'ops', reason: 'disk failure' };
    await admin.hold('store2', ops);
    const moved = [
      queueIdOf(await send(relay.port, 'sender@remote.test', ['bob@example.com'], 'move me 1')),
      queueIdOf(await send(relay.port, 'sender@remote.test', ['bob@example.com'], 'move me 2')),
    ];
    await relay.app.storeAdmin!.move('store2', 'store3', ops);
    const arrived = (id: string) => stores.store3.messages.some((message) => message.body.includes(id));
    await waitFor(() => moved.every(arrived), 15_000, 'the moved mail on store3');
    expect(stores.store2.messages.filter((message) => moved.some((id) => message.body.includes(id)))).toEqual([]);
    await relay.app.storeAdmin!.unmove('store2', { by: 'ops', reason: 'repaired' });
    await admin.release('store2', { by: 'ops' });

    const since = Date.now();
    const replayed = queueIdOf(await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'keep and replay'));
    const copies = () => stores.store1.messages.filter((message) => message.body.includes(replayed)).length;
    await waitFor(() => copies() === 1);
    await waitFor(async () => (await relay.app.retained!.entries('store1', since, Date.now())).length === 1);
    const response = await fetch(`http://127.0.0.1:${relay.app.adminPort}/api/v1/stores/store1/replay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ since, by: 'ops', reason: 'store1 restored from a lagging replica' }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ replayed: 1, missing: 0 });
    await waitFor(() => copies() === 2, 15_000, 'the replayed copy');
  });

  it("shows every shard's stores in the status API, the status page and the metrics, and deletes a spam run over two shards in bulk", async () => {
    const { relay } = fixture;
    const admin = relay.app.mailstoreAdmin!;
    const base = `http://127.0.0.1:${relay.app.adminPort}`;
    const api = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${base}/api/v1${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    for (const store of ['store1', 'store3']) await admin.hold(store, { reason: 'spam run', by: 'ops' });
    const kept = queueIdOf(await send(relay.port, 'friend@good.test', ['alice@example.com'], 'not spam'));
    for (const user of ['alice@example.com', 'carol@example.com']) {
      for (let index = 0; index < 2; index++) await send(relay.port, 'spam@bad.test', [user], `spam ${index}`);
    }
    const backlogs = async () =>
      Object.fromEntries(
        ((await api('GET', '/stores')).body.stores as Array<{ mailstore: string; backlog: { messages: number } }>).map(
          (entry) => [entry.mailstore, entry.backlog.messages],
        ),
      );
    expect(await backlogs()).toMatchObject({ store1: 3, store3: 2 });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('holdfast_backlog_messages{mailstore="store1"} 3');
    expect(metrics).toContain('holdfast_backlog_messages{mailstore="store3"} 2');
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("api('GET', '/stores')"); // the page reads the same API

    const selection = { action: 'delete', filter: { sender: 'spam@bad.test' } };
    expect((await api('POST', '/messages/actions', { ...selection, dryRun: true })).body).toMatchObject({ matched: 4 });
    const deleted = await api('POST', '/messages/actions', { ...selection, reason: 'spam run', by: 'ops' });
    expect(deleted.body).toMatchObject({ matched: 4, done: 4 });
    expect(await backlogs()).toMatchObject({ store1: 1, store3: 0 });
    for (const store of ['store1', 'store3']) await admin.release(store, { by: 'ops' });
    await waitFor(() => stores.store1.messages.some((message) => message.body.includes(kept)), 15_000, 'the kept one');
    expect(stores.store1.messages.filter((message) => message.body.includes('spam@bad.test'))).toEqual([]);
    expect(stores.store3.messages.filter((message) => message.body.includes('spam@bad.test'))).toEqual([]);
  });

  it("admits a commit on a fresh connection, whose connections to the shards' primaries are not made yet", async () => {
    const { cluster } = fixture;
    const connection = createRedis({ cluster: cluster.startupNodes }, 'intake', 2000);
    try {
      await checkTopology(connection, 15_000);
      const logger = createLogger('silent', { write: () => undefined });
      const gate = new CommitGate(connection, {
        durability: 'strict',
        replicas: 0,
        probeTimeoutMs: 1000,
        probeIntervalMs: 1000,
        logger,
        now: Date.now,
      });
      let committed = false;
      await gate.commit(
        () => Promise.resolve(void (committed = true)),
        () => STORES.map((id) => createKeys('hf').mailstoreBacklog(id)),
      );
      expect(committed).toBe(true);
    } finally {
      connection.disconnect();
    }
  });

  it('ran every command, transaction and script in one slot: no CROSSSLOT or MOVED error in its log', () => {
    const { relay } = fixture;
    const slotErrors = relay.logs.filter((record) => /CROSSSLOT|same slot|MOVED|ASK /.test(JSON.stringify(record)));
    expect(slotErrors).toEqual([]);
    expect(relay.logs.filter((record) => ['error', 'fatal'].includes(record.level))).toEqual([]);
  });
});

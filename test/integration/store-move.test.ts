// Scenario: a store fails over to a replica (its mail, queued and new, moved there), and a store's endpoints change live.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { freePort } from '../helpers/ports.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { holdfastCli, writeCliConfig } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

describe('moving a failed store to its replica', () => {
  let redis: TestRedis;
  let relay: TestRelay;
  let directory: string;
  let cli: (...args: string[]) => ReturnType<typeof holdfastCli>;
  let store1Port: number;
  const store1 = new FakeMailstore();
  const replica = new FakeMailstore(); // store2 in the config

  beforeAll(async () => {
    redis = await startTestRedis();
    directory = mkdtempSync(join(tmpdir(), 'holdfast-move-'));
    store1Port = await freePort(); // store1 is dead
    const ports = { store1: store1Port, store2: await replica.start() };
    relay = await startRelay(testConfig(redis.url, ports));
    cli = (...args) => holdfastCli(writeCliConfig(directory, relay), ...args);
  });

  afterAll(async () => {
    await relay?.stop();
    await Promise.all([store1.stop(), replica.stop()]);
    await redis?.cleanup();
    rmSync(directory, { recursive: true, force: true });
  });

  it('delivers the queued and the new mail of the failed store to the replica, and back after unmove', async () => {
    expect((await cli('hold', 'store1', '--reason', 'disk failure')).code).toBe(0);
    for (const subject of ['q1', 'q2']) await send(relay.port, 'sender@remote.test', ['alice@example.com'], subject);
    const kept = queueIdOf(await send(relay.port, 'sender@remote.test', ['carol@example.com'], 'kept back'));
    expect((await cli('queue', 'hold', '--queue-id', kept, '--reason', 'customer asked')).code).toBe(0);

    expect((await cli('store', 'move', 'store1', 'store1', '--reason', 'typo')).code).toBe(65); // onto itself
    const moved = await cli('store', 'move', 'store1', 'store2', '--reason', 'failover to replica', '--by', 'ops');
    expect(moved).toMatchObject({ code: 0 });
    await waitFor(() => replica.delivered('alice@example.com').length === 2);
    expect(relay.events('StoreMailMoved')[0]).toMatchObject({ mailstore: 'store1', to: 'store2', jobs: 3 });

    // New mail for store1's users goes straight to the replica.
    await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'new');
    await waitFor(() => replica.delivered('alice@example.com').length === 3);
    // The message held one by one stays held on the replica.
    expect((await cli('queue', 'list', '--queue-id', kept)).stdout).toContain(`${kept}  store2  held`);
    const status = JSON.parse((await cli('status', '--json')).stdout) as Array<Record<string, unknown>>;
    expect(status.find((entry) => entry.mailstore === 'store1')).toMatchObject({
      overrides: { movedTo: 'store2' },
      backlog: { messages: 0 },
    });

    // store1 is repaired: unmove it, and its users' mail goes to it again.
    await store1.start(store1Port);
    expect((await cli('store', 'unmove', 'store1', '--reason', 'store1 repaired')).code).toBe(0);
    expect((await cli('release', 'store1', '--reason', 'store1 repaired')).code).toBe(0);
    await sleep(1200); // every node sees the change within a second
    await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'after unmove');
    await waitFor(() => store1.delivered('alice@example.com').length === 1);
    expect(replica.delivered('alice@example.com')).toHaveLength(3);
    // Released, the held message goes back to its home store at its attempt.
    await cli('queue', 'release', '--queue-id', kept);
    await waitFor(() => store1.delivered('carol@example.com').length === 1);
    expect(replica.delivered('carol@example.com')).toHaveLength(0);
    // Its trace tells that story.
    const traced = async () => (await relay.app.traceAdmin!.lookup({ queueId: kept }))[0]?.events ?? [];
    await waitFor(
      async () => (await traced()).some((event) => event.kind === 'delivered'),
      5000,
      'the delivery traced',
    );
    expect(await traced()).toMatchObject([
      { kind: 'accepted' },
      { kind: 'held', mailstore: 'store1', detail: 'customer asked' },
      { kind: 'moved', mailstore: 'store2', recipients: ['carol@example.com'] },
      { kind: 'released', mailstore: 'store2' },
      { kind: 'rerouted', mailstore: 'store1', recipients: ['carol@example.com'] },
      { kind: 'delivered', mailstore: 'store1', recipients: ['carol@example.com'] },
    ]);

    const audit = JSON.parse((await cli('audit', '--json', '-n', '10')).stdout) as Array<Record<string, unknown>>;
    expect(audit.map((entry) => entry.action)).toEqual(
      expect.arrayContaining(['move-store', 'unmove-store']) as unknown[],
    );
    expect(audit.find((entry) => entry.action === 'move-store')).toMatchObject({
      mailstore: 'store1',
      to: 'store2',
      by: 'ops',
      reason: 'failover to replica',
    });
  });
});

describe("changing a store's endpoints live", () => {
  let redis: TestRedis;
  let relay: TestRelay;
  let directory: string;
  let cli: (...args: string[]) => ReturnType<typeof holdfastCli>;
  const newHome = new FakeMailstore();

  beforeAll(async () => {
    redis = await startTestRedis();
    directory = mkdtempSync(join(tmpdir(), 'holdfast-endpoints-'));
    const dead = await freePort();
    const store1 = { retry: '1s', trip: { enabled: false } };
    relay = await startRelay(testConfig(redis.url, { store1: dead }, { mailstores: { store1 } }));
    cli = (...args) => holdfastCli(writeCliConfig(directory, relay), ...args);
  });

  afterAll(async () => {
    await relay?.stop();
    await newHome.stop();
    await redis?.cleanup();
    rmSync(directory, { recursive: true, force: true });
  });

  it('delivers to the new endpoint on the next attempt, and goes back to the configured one on reset', async () => {
    await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'waiting');
    await waitFor(() => relay.events('TransientFailure').length >= 1);
    const port = await newHome.start();
    expect((await cli('store', 'endpoints', 'store1', 'nonsense', '--reason', 'x')).code).toBe(65);
    const changed = await cli('store', 'endpoints', 'store1', `127.0.0.1:${port}`, '--reason', 'new server');
    expect(changed).toMatchObject({ code: 0, stdout: `store1: delivering to 127.0.0.1:${port}\n` });
    await waitFor(() => newHome.messages.length === 1);

    expect((await cli('store', 'endpoints', 'store1', '--reset', '--reason', 'old server back')).code).toBe(0);
    const status = JSON.parse((await cli('status', '--json')).stdout) as Array<Record<string, unknown>>;
    expect(status[0]!.overrides).toBeUndefined();
  });
});

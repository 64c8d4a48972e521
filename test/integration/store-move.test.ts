// Scenario: a store fails over to a replica (its mail, queued and new, moved there), and a store's endpoints change live.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeMailstore } from '../helpers/mailstore.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

describe('moving a failed store to its replica', () => {
  const fixture = withRelay({ stores: ['store1', 'store2'], down: ['store1'], cli: true }); // store1 is dead
  const { store1, store2: replica } = fixture.stores;
  const { cli } = fixture;

  it('delivers the queued and the new mail of the failed store to the replica, and back after unmove', async () => {
    const { relay } = fixture;
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
    await store1.start(fixture.ports.store1);
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
  const fixture = withRelay({
    stores: ['store1'],
    down: ['store1'], // the configured endpoint is dead
    cli: true,
    config: { mailstores: { store1: { retry: '1s', trip: { enabled: false } } } },
  });
  const { cli } = fixture;
  const newHome = new FakeMailstore();

  // Registered after the fixture's, so it runs first.
  afterAll(async () => {
    await newHome.stop();
  });

  it('delivers to the new endpoint on the next attempt, and goes back to the configured one on reset', async () => {
    const { relay } = fixture;
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

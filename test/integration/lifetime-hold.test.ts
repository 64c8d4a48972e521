// Scenario: time a mailstore spends held does not count toward its messages' lifetime.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { freePort } from '../helpers/ports.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';

const DAY = 86_400_000;

describe('expiry across a long hold (injected clock)', () => {
  let redis: TestRedis;
  let relay: TestRelay;
  /** Days added to the real clock: Holdfast's policy clock moves on while BullMQ's delays stay short. */
  let offset = 0;

  beforeAll(async () => {
    redis = await startTestRedis();
    const config = testConfig(
      redis.url,
      { store1: await freePort() },
      { mailstores: { store1: { lifetime: '5d', retry: '1s', trip: { enabled: false } } } },
    );
    relay = await startRelay(config, { now: () => Date.now() + offset });
  });

  afterAll(async () => {
    await relay?.stop();
    await redis?.cleanup();
  });

  /** Waits for the next attempt on the message (the store refuses connections: it is deferred or expires). */
  async function nextOutcome(queueId: string): Promise<'deferred' | 'expired'> {
    const seen = relay.logs.length;
    await waitFor(() =>
      relay.logs
        .slice(seen)
        .some(
          (record) => record.queueId === queueId && ['TransientFailure', 'Expiration'].includes(record.event ?? ''),
        ),
    );
    const fresh = relay.logs.slice(seen).filter((record) => record.queueId === queueId);
    return fresh.some((record) => record.event === 'Expiration') ? 'expired' : 'deferred';
  }

  it('keeps mail that arrived 4 days before a 3-day hold, and expires it once really past its lifetime', async () => {
    const admin = relay.app.mailstoreAdmin!;
    const queueId = queueIdOf(await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'long hold'));
    expect(await nextOutcome(queueId)).toBe('deferred');

    offset = 4 * DAY;
    expect(await nextOutcome(queueId)).toBe('deferred'); // 4 days old: within the 5-day lifetime
    await admin.hold('store1', { reason: 'storage failure', by: 'ops' });
    offset = 7 * DAY; // three days later
    await admin.release('store1', { by: 'ops' });
    // 7 days in the queue, 3 of them held: 4 days count, less than the lifetime.
    expect(await nextOutcome(queueId)).toBe('deferred');
    expect(relay.events('Expiration')).toHaveLength(0);

    offset = 8.5 * DAY; // 5.5 days count now
    expect(await nextOutcome(queueId)).toBe('expired');
    expect(relay.events('Expiration')[0]).toMatchObject({ queueId, pausedMs: expect.any(Number) as number });
    expect(relay.events('Expiration')[0]!.pausedMs as number).toBeGreaterThanOrEqual(3 * DAY);
  });
});

describe('a message moved off a held store (injected clock)', () => {
  let redis: TestRedis;
  let relay: TestRelay;
  let offset = 0;

  beforeAll(async () => {
    redis = await startTestRedis();
    const policy = { lifetime: '5d', retry: '1s', trip: { enabled: false } };
    // Both stores are down: the message is only ever deferred or expired.
    const config = testConfig(
      redis.url,
      { store1: await freePort(), store2: await freePort() },
      { mailstores: { store1: policy, store2: policy } },
    );
    relay = await startRelay(config, { now: () => Date.now() + offset, policyIntervalMs: 250 });
  });

  afterAll(async () => {
    await relay?.stop();
    await redis?.cleanup();
  });

  it('keeps the time its first store was held from counting on the store it moved to', async () => {
    await relay.app.mailstoreAdmin!.hold('store1', { reason: 'storage failure', by: 'ops' });
    const queueId = queueIdOf(await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'moved'));
    offset = 4 * DAY; // four days held on store1
    await relay.app.storeAdmin!.move('store1', 'store2', { by: 'ops', reason: 'failover' });
    await waitFor(() => relay.events('StoreMailMoved').length > 0);
    await waitFor(() => relay.events('TransientFailure').some((record) => record.mailstore === 'store2'));

    offset = 6 * DAY; // six days in the queue, four of them held: two count
    const seen = relay.logs.length;
    await waitFor(() =>
      relay.logs
        .slice(seen)
        .some(
          (record) => record.queueId === queueId && ['TransientFailure', 'Expiration'].includes(record.event ?? ''),
        ),
    );
    expect(relay.events('Expiration')).toHaveLength(0);
  });
});

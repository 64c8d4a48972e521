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

// Scenario: Redis reconnects as a server that no longer fsyncs every write (as a promoted replica might).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';

describe('intake after a reconnect to a Redis that does not fsync every write', () => {
  let redis: TestRedis;
  let relay: TestRelay;
  const store = new FakeMailstore();

  beforeAll(async () => {
    redis = await startTestRedis();
    relay = await startRelay(testConfig(redis.url, { store1: await store.start() }));
  });

  afterAll(async () => {
    await relay?.stop();
    await store.stop();
    await redis?.cleanup();
  });

  const sendOne = (subject: string) =>
    send(relay.port, 'sender@remote.test', ['alice@example.com'], subject).catch((error: Error) => error.message);

  it('answers 451 4.3.0 while strict durability does not hold, and 250 again once it does', async () => {
    expect(await sendOne('durable')).toMatch(/^250/);

    await redis.client.config('SET', 'appendfsync', 'everysec');
    // Every connection drops and comes back, as after a failover.
    await redis.client.call('CLIENT', 'KILL', 'TYPE', 'normal');
    // Right after the drop, intake answers 451 because Redis is not connected; then because it is not durable.
    await waitFor(
      async () => /451 4\.3\.0/.test(await sendOne('not durable')) && relay.events('CommitsRefused').length > 0,
      10_000,
      'a 451 for durability',
    );
    expect(relay.events('CommitsRefused')).toMatchObject([{ reason: 'REDIS_NOT_DURABLE' }]);
    expect(relay.events('CommitsRefused')[0]!.detail).toContain('appendfsync is "everysec"');

    await redis.client.config('SET', 'appendfsync', 'always');
    await waitFor(async () => (await sendOne('durable again')).startsWith('250'), 10_000, 'a 250 again');
    expect(relay.events('CommitsResumed')).toHaveLength(1);
  });
});

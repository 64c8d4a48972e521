// Scenario: Redis reconnects as a server that no longer fsyncs every write (as a promoted replica might).
import { describe, expect, it } from 'vitest';
import { send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

describe('intake after a reconnect to a Redis that does not fsync every write', () => {
  const fixture = withRelay({ stores: ['store1'] });

  const sendOne = (subject: string) =>
    send(fixture.relay.port, 'sender@remote.test', ['alice@example.com'], subject).catch(
      (error: Error) => error.message,
    );

  it('answers 451 4.3.0 while strict durability does not hold, and 250 again once it does', async () => {
    const { relay, redis } = fixture;
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

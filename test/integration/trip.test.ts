// Scenario: a mailstore refuses connections; Holdfast trips it, probes it, and reopens it when it answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

describe('the automatic trip', () => {
  const fixture = withRelay({
    stores: ['store1', 'store2'],
    down: ['store2'], // store2 refuses connections
    config: { mailstores: { store2: { trip: { failures: 3, probeInterval: '1s', maxProbeInterval: '2s' } } } },
  });
  const { store1, store2 } = fixture.stores;
  /** A node that runs the policy tick but delivers nothing: it must leave probes to nodes that can deliver. */
  let policyOnly: TestRelay;

  beforeAll(async () => {
    policyOnly = await startRelay(fixture.relay.config, { intake: false, delivery: false, policyIntervalMs: 250 });
  });

  // Registered after the fixture's, so it runs first: the policy node stops before the relay.
  afterAll(async () => {
    await policyOnly?.stop();
  });

  const store2Events = (event: string) => fixture.relay.events(event).filter((record) => record.mailstore === 'store2');

  it('trips after the threshold, makes no attempts but probes, and reopens when the store answers', async () => {
    const { relay } = fixture;
    for (let index = 0; index < 8; index++)
      await send(relay.port, 'sender@remote.test', ['bob@example.com', 'alice@example.com'], `m${index}`);
    await waitFor(() => store2Events('MailstoreState').some((record) => record.action === 'trip'), 15_000, 'the trip');
    const attemptsAtTrip = store2Events('Attempt').length;
    expect(attemptsAtTrip).toBeGreaterThanOrEqual(3);
    expect(attemptsAtTrip).toBeLessThanOrEqual(3 + 4); // the threshold, plus attempts already in flight (concurrency 4)

    await waitFor(() => store2Events('Probe').length >= 2, 15_000, 'probes');
    // Attempts already running at the trip end meanwhile; after that, probes only.
    const settled = store2Events('Attempt').length;
    expect(settled).toBeLessThanOrEqual(3 + 4);
    const probes = store2Events('Probe').length;
    await waitFor(() => store2Events('Probe').length >= probes + 2, 15_000, 'two more probes');
    expect(store2Events('Attempt').length).toBe(settled); // probes only, no delivery attempts
    expect(store1.delivered('alice@example.com')).toHaveLength(8); // the healthy store is not held up

    await store2.start(fixture.ports.store2);
    await waitFor(() => store2.delivered('bob@example.com').length === 8, 20_000, 'delivery after recovery');
    expect(store2Events('MailstoreState').map((record) => record.action)).toContain('recover');
    expect(policyOnly.events('Probe')).toHaveLength(0);
    expect(relay.events('Expiration')).toHaveLength(0);
    expect(relay.events('Bounce')).toHaveLength(0);
    // No message burned through its retries while the store was tripped.
    const attemptsPerMessage = new Map<string, number>();
    for (const record of store2Events('Attempt')) {
      attemptsPerMessage.set(record.queueId!, (attemptsPerMessage.get(record.queueId!) ?? 0) + 1);
    }
    expect(Math.max(...attemptsPerMessage.values())).toBeLessThanOrEqual(3);
  });
});

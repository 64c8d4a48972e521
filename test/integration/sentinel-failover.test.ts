// Scenario: Redis behind three sentinels; the primary is SIGKILLed under a steady stream of mail.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { startSentinelSet, type TestSentinelSet } from '../helpers/sentinel.js';
import { jobCopies } from '../helpers/queued.js';
import { send } from '../helpers/smtp-client.js';
import { SteadySender, countFigures } from '../helpers/steady-sender.js';
import { waitFor } from '../helpers/wait.js';

describe('a relay on Redis Sentinel with replicas: 1', () => {
  let set: TestSentinelSet;
  let relay: TestRelay;
  let store: FakeMailstore;

  // A fresh set for each case: the sentinels need up to 10 s to learn the roles after a failover.
  beforeEach(async () => {
    store = new FakeMailstore();
    set = await startSentinelSet({ replicas: 1 });
    const config = testConfig(
      undefined,
      { store1: await store.start() },
      {
        redis: { sentinels: set.sentinels, sentinelName: set.name, replicas: 1, replicaTimeout: '1s' },
        // Jobs active at the kill keep their lock until it expires: short locks keep the test short.
        workers: { lockDuration: '4s', stalledInterval: '2s' },
      },
    );
    relay = await startRelay(config);
  }, 120_000);

  afterEach(async () => {
    await relay?.stop();
    await store.stop();
    await set?.cleanup();
  });

  it('answers 451 4.3.0 instead of 250 while the replica does not acknowledge, and writes no more mail', async () => {
    const primary = await set.primary();
    const replica = set.nodes.find((node) => node.port !== primary.port)!;
    const sendOne = (subject: string) =>
      send(relay.port, 'sender@remote.test', ['alice@example.com'], subject).catch((error: Error) => error.message);
    set.pause(replica);
    try {
      for (const subject of ['no replica 1', 'no replica 2', 'no replica 3']) {
        expect(await sendOne(subject)).toMatch(/451 4\.3\.0/);
      }
    } finally {
      set.resume(replica);
    }
    expect(relay.events('CommitsRefused')).toMatchObject([{ reason: 'REDIS_REPLICAS_LAGGING' }]);
    // Once a commit went unacknowledged (at most the first), the next messages are refused before they are written.
    const refused = relay.events('ReceptionFailed').map((record) => record.queueId!);
    expect(refused).toHaveLength(3);
    for (const queueId of refused.slice(1)) {
      expect(await jobCopies(relay.config.redis.prefix, set.client(primary), queueId)).toEqual([]);
    }

    await waitFor(async () => (await sendOne('replica back')).startsWith('250'), 20_000, 'a 250 again');
    expect(relay.events('CommitsResumed')).toHaveLength(1);
  });

  it('delivers every message it acknowledged while the primary was killed and the replica promoted', async () => {
    const sender = new SteadySender(relay.port);
    const timings: Record<string, number> = {};
    let killedAt: number;
    try {
      sender.start();
      await waitFor(() => sender.acknowledged().length >= 20, 20_000, '20 messages acknowledged before the kill');
      const old = await set.primary();
      killedAt = Date.now();
      await set.kill(old);
      expect((await set.waitForFailover(old)).port).not.toBe(old.port);
      timings.failoverMs = Date.now() - killedAt;
      // As systemd would: the old primary starts again, and the sentinels make it the new primary's replica.
      await set.restart(old);
      await set.waitUntilReplicated();
      const rejoinedAt = Date.now();
      timings.rejoinedMs = rejoinedAt - killedAt;
      await waitFor(() => sender.acknowledged(rejoinedAt).length >= 20, 30_000, '20 messages acknowledged after');
    } finally {
      await sender.stop();
    }
    const { missing, ...figures } = await countFigures(sender, store);
    Object.assign(timings, sender.refusals(killedAt));
    console.info(`sentinel failover: ${JSON.stringify({ ...timings, ...figures })}`);
    expect(figures.refused).toBeGreaterThan(0);
    // The promoted replica was checked as the primary was: it fsyncs every write.
    expect(relay.events('CommitsRefused').map((record) => record.reason)).not.toContain('REDIS_NOT_DURABLE');
    expect(missing).toEqual([]);
    expect(figures.duplicated).toBeLessThanOrEqual(3); // what was finished and not yet replicated: 0-2 a run
  }, 240_000);

  it('delivers every message it acknowledged through a planned switchover with the old primary alive', async () => {
    const sender = new SteadySender(relay.port);
    const timings: Record<string, number> = {};
    let startedAt: number;
    try {
      sender.start();
      await waitFor(() => sender.acknowledged().length >= 20, 20_000, '20 messages acknowledged before');
      const old = await set.primary();
      startedAt = Date.now();
      await set.switchover();
      await set.waitForFailover(old);
      timings.failoverMs = Date.now() - startedAt;
      await set.waitUntilReplicated();
      const rejoinedAt = Date.now();
      timings.rejoinedMs = rejoinedAt - startedAt;
      await waitFor(() => sender.acknowledged(rejoinedAt).length >= 20, 30_000, '20 messages acknowledged after');
    } finally {
      await sender.stop();
    }
    const { missing, ...figures } = await countFigures(sender, store);
    Object.assign(timings, sender.refusals(startedAt));
    console.info(`sentinel switchover: ${JSON.stringify({ ...timings, ...figures })}`);
    expect(missing).toEqual([]);
    // The old primary takes the worker's finishes for about a second after the promotion, and loses
    // them: the jobs come back on the new one, and this node finishes them again instead of
    // delivering them again (0 in the runs since; 23-45 a run before it remembered them).
    expect(figures.duplicated).toBeLessThanOrEqual(3);
  }, 240_000);
});

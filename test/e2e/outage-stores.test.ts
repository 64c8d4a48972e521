// Outage suite, mailstore faults: real Dovecot stores stopped, held, or answering "user unknown" under a stream of mail,
// with Holdfast on one Redis and again on a Redis Cluster.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { OutageWorld, REDIS_SETUPS } from './harness/world.js';
import { STORE_CONCURRENCY } from './harness/site.js';
import { expectNoHarm } from './harness/expectations.js';

const SCENARIO_TIMEOUT_MS = 150_000;

describe.each(REDIS_SETUPS)('the outage suite: mailstore faults, on $name', ({ options, suffix }) => {
  let world: OutageWorld | undefined;
  afterEach(async () => {
    await world?.cleanup();
    world = undefined;
  });

  it(
    'delivers every message exactly once to the right Maildir when nothing fails (baseline)',
    async () => {
      world = await OutageWorld.start(`baseline${suffix}`, options);
      const sender = world.sender({ count: 200, rate: 40, sessions: 4 });
      await sender.run();
      await sender.retryUnacknowledged();

      const figures = await world.settleAndCount(sender);
      expectNoHarm(figures, 0);
      expect(figures.delivered).toBe(200);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'keeps the mail of a Dovecot stopped mid-stream queued, trips it, and delivers it all once it is back',
    async () => {
      world = await OutageWorld.start(`store-stopped${suffix}`, options);
      const sender = world.sender({ count: 200, rate: 40, sessions: 4 });
      const stream = sender.run();
      await waitFor(() => sender.progress >= 50, 30_000, 'a quarter of the stream');
      await world.stores.store2.stop();
      await waitFor(async () => (await world!.storeStatus('store2')).state.kind === 'tripped', 30_000, 'the trip');
      await stream;
      await sender.retryUnacknowledged();
      // One sick store never delays another: the others' mail is all in before store2 is back.
      await waitFor(() => world!.awaitingOn(sender, 'store1') + world!.awaitingOn(sender, 'store3') === 0, 60_000);
      expect(world.awaitingOn(sender, 'store2')).toBeGreaterThan(0);

      await world.stores.store2.restart();
      const figures = await world.settleAndCount(sender);
      // A Dovecot that stops may answer "421 4.3.2 Shutting down" for a message it has saved: retried, rightly.
      expectNoHarm(figures, STORE_CONCURRENCY);
      expect(figures.delivered).toBe(200);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'delivers nothing to a store an operator holds mid-stream, and everything after the release (holdfast hold/release)',
    async () => {
      world = await OutageWorld.start(`operator-hold${suffix}`, options);
      const sender = world.sender({ count: 200, rate: 40, sessions: 4 });
      // The second half waits for the hold: on a slow machine the CLI could otherwise start after
      // the stream's end, and the held store would have nothing to hold.
      sender.pauseAt(100);
      const stream = sender.run();
      await waitFor(() => sender.progress >= 50, 30_000, 'a quarter of the stream');
      await world.cli('hold', 'store2', '--reason', 'outage suite: operator hold', '--by', 'e2e');
      await waitFor(async () => (await world!.storeStatus('store2')).counts.active === 0, 30_000, 'attempts to end');
      const deliveredAtHold = world.copiesOn('store2');
      sender.resume();
      await stream;
      await sender.retryUnacknowledged();
      await waitFor(() => world!.awaitingOn(sender, 'store1') + world!.awaitingOn(sender, 'store3') === 0, 60_000);

      // The stream is over and the other stores have all their mail: store2 got none of it.
      expect(world.copiesOn('store2')).toBe(deliveredAtHold);
      const held = await world.storeStatus('store2');
      expect(held.state.kind).toBe('held');
      expect(held.backlog.messages).toBeGreaterThan(0);

      await world.cli('release', 'store2', '--reason', 'outage suite: maintenance over', '--by', 'e2e');
      const figures = await world.settleAndCount(sender);
      expectNoHarm(figures, 0);
      expect(figures.delivered).toBe(200);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'guards a store whose user database came back empty instead of bouncing, and delivers after the fix and release',
    async () => {
      world = await OutageWorld.start(`userdb-emptied${suffix}`, options);
      const sender = world.sender({ count: 200, rate: 40, sessions: 4 });
      const stream = sender.run();
      await waitFor(() => sender.progress >= 50, 30_000, 'a quarter of the stream');
      await world.stores.store2.emptyUserdb();
      await stream;
      await sender.retryUnacknowledged();

      // The operator sees the guard in `holdfast status`, restores the user database, and releases.
      await waitFor(async () => (await world!.storeStatus('store2')).state.kind === 'guarded', 30_000, 'the guard');
      const status = JSON.parse((await world.cli('status', '--json')).stdout) as Array<{
        mailstore: string;
        state: { kind: string };
      }>;
      expect(status.find((entry) => entry.mailstore === 'store2')?.state.kind).toBe('guarded');
      await waitFor(() => world!.awaitingOn(sender, 'store1') + world!.awaitingOn(sender, 'store3') === 0, 60_000);
      expect(world.awaitingOn(sender, 'store2')).toBeGreaterThan(0);
      await world.stores.store2.restoreUserdb();
      await world.cli('release', 'store2', '--reason', 'outage suite: user database restored', '--by', 'e2e');

      const figures = await world.settleAndCount(sender);
      // Dovecot's reload (SIGHUP) of the emptied file ends its LMTP processes: one that had saved a
      // message may still answer "421 4.3.2 Shutting down", and Holdfast rightly tries it again.
      expectNoHarm(figures, STORE_CONCURRENCY);
      expect(figures.delivered).toBe(200);
    },
    SCENARIO_TIMEOUT_MS,
  );
});

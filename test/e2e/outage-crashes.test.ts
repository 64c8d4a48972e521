// Outage suite, crashes: the Holdfast process and redis-server are SIGKILLed under a stream of mail, then restarted.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { OutageWorld } from './harness/world.js';
import { CRASH_DUPLICATE_BOUND, expectNoHarm } from './harness/expectations.js';

const SCENARIO_TIMEOUT_MS = 150_000;
/** Each store reply held back this long: a delivery takes ~4 of them, so several are running at any moment. */
const SLOW_STORE_MS = 50;

describe('the outage suite: crashes', () => {
  let world: OutageWorld | undefined;
  afterEach(async () => {
    await world?.cleanup();
    world = undefined;
  });

  it(
    'delivers every acknowledged message after the Holdfast process is SIGKILLed mid-stream and started again',
    async () => {
      world = await OutageWorld.start('holdfast-killed', { slowStoresMs: SLOW_STORE_MS, shortLocks: true });
      const sender = world.sender({ count: 240, rate: 40, sessions: 4 });
      const stream = sender.run();
      await waitFor(() => sender.progress >= 80, 30_000, 'a third of the stream');
      await world.node.kill();
      // Down while the sender keeps trying: those messages get no answer and are sent again later.
      await waitFor(() => sender.progress >= 120, 30_000, 'half of the stream');
      await world.node.start();
      await stream;
      await sender.retryUnacknowledged();

      const figures = await world.settleAndCount(sender);
      expectNoHarm(figures, CRASH_DUPLICATE_BOUND);
      expect(figures.delivered).toBe(240);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'delivers every acknowledged message after redis-server is SIGKILLed mid-stream and restarted, with no restart of Holdfast',
    async () => {
      world = await OutageWorld.start('redis-killed', { slowStoresMs: SLOW_STORE_MS, shortLocks: true });
      const sender = world.sender({ count: 240, rate: 40, sessions: 4 });
      const stream = sender.run();
      await waitFor(() => sender.progress >= 60, 30_000, 'a quarter of the stream');
      await world.redis.kill();
      // Down for longer than a worker's lock (4 s) while the sender keeps trying: Holdfast answers
      // 451 and the sender tries again later.
      await waitFor(() => sender.progress >= 230, 30_000, 'the end of the stream');
      await world.redis.restart();
      await stream;
      await sender.retryUnacknowledged();

      const figures = await world.settleAndCount(sender);
      expectNoHarm(figures, CRASH_DUPLICATE_BOUND);
      expect(figures.delivered).toBe(240);
      expect(figures.acknowledged).toBeLessThan(figures.attempts); // the outage was seen: some 451s
      expect(world.node.running).toBe(true);
      expect(world.node.mainEvents('Ready')).toHaveLength(1);
    },
    SCENARIO_TIMEOUT_MS,
  );
});

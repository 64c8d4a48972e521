// Outage suite, several nodes: two Holdfast processes on one Redis (and again on a Redis Cluster), one SIGKILLed while a backlog drains.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { OutageWorld, REDIS_SETUPS } from './harness/world.js';
import { STORES } from './harness/site.js';
import { CRASH_DUPLICATE_BOUND, expectNoHarm } from './harness/expectations.js';

const SCENARIO_TIMEOUT_MS = 150_000;

describe.each(REDIS_SETUPS)('the outage suite: two nodes sharing $name', ({ options, suffix }) => {
  let world: OutageWorld | undefined;
  afterEach(async () => {
    await world?.cleanup();
    world = undefined;
  });

  it(
    'finishes all the work of a node SIGKILLed during delivery on the other node',
    async () => {
      // Slow stores: every delivery is in flight for a while, so the kill finds some running.
      world = await OutageWorld.start(`node-killed${suffix}`, {
        ...options,
        nodes: 2,
        slowStoresMs: 50,
        shortLocks: true,
      });
      const node1 = world.nodes[0]!;
      const node2 = world.nodes[1]!;
      for (const store of STORES) await world.cli('hold', store, '--reason', 'outage suite: backlog', '--by', 'e2e');
      // Half the sessions send to each node; a session whose node is gone goes to the other (the next MX).
      const sender = world.sender({ count: 300, rate: 50, sessions: 6 });
      const stream = sender.run();
      await waitFor(() => sender.progress >= 120, 30_000, 'a backlog of 120 messages');
      for (const store of STORES) await world.cli('release', store, '--reason', 'outage suite: drain', '--by', 'e2e');
      await waitFor(() => world!.copiesOn() >= 50, 30_000, 'the drain to be under way');
      const deliveredByNode1 = node1.events('Delivery').length;
      await node1.kill();
      await stream;
      await sender.retryUnacknowledged();

      const figures = await world.settleAndCount(sender, { deliveriesByNode1BeforeKill: deliveredByNode1 });
      expectNoHarm(figures, CRASH_DUPLICATE_BOUND);
      expect(figures.delivered).toBe(300);
      // Both nodes delivered before the kill; node 2 alone finished the rest, node 1's running jobs included.
      expect(deliveredByNode1).toBeGreaterThan(0);
      expect(node2.events('Delivery').length).toBeGreaterThan(0);
      expect(node1.running).toBe(false);
    },
    SCENARIO_TIMEOUT_MS,
  );
});

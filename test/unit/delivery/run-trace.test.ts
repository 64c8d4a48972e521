// Unit tests for the events one delivery run adds to the message trace.
import { describe, expect, it } from 'vitest';
import { RunTrace } from '../../../src/delivery/run-trace.js';

describe("a delivery run's trace", () => {
  const job = { queueId: 'Q1', mailstore: 'store1' };

  it('makes one event per distinct reply, its recipients together', () => {
    const trace = new RunTrace(job, () => 1000);
    trace.addByReply(
      'delivered',
      [
        { recipient: 'a@example.com', reply: '250 2.0.0 Ok' },
        { recipient: 'b@example.com', reply: '250 2.0.0 Ok' },
        { recipient: 'c@example.com', reply: '250 2.0.0 Saved' },
      ],
      { attempt: 1, remote: '127.0.0.1:24' },
    );
    expect(trace.events).toEqual([
      {
        at: 1000,
        queueId: 'Q1',
        kind: 'delivered',
        mailstore: 'store1',
        attempt: 1,
        remote: '127.0.0.1:24',
        recipients: ['a@example.com', 'b@example.com'],
        reply: '250 2.0.0 Ok',
      },
      expect.objectContaining({ recipients: ['c@example.com'], reply: '250 2.0.0 Saved' }),
    ]);
  });

  it('adds nothing for no recipients', () => {
    const trace = new RunTrace(job, () => 1000);
    trace.addByReply('refused', []);
    expect(trace.events).toEqual([]);
  });

  it("gives the run's deferrals their retry time, and nothing else", () => {
    const trace = new RunTrace(job, () => 1000);
    trace.addByReply('deferred', [{ recipient: 'a@example.com', reply: '450 4.2.0 later' }]);
    trace.add('rerouted', { mailstore: 'store2', recipients: ['b@example.com'] });
    trace.deferredUntil(61_000);
    expect(trace.events.map((event) => event.retryAt)).toEqual([61_000, undefined]);
  });
});

// Unit tests for ending a message hold: its held time is kept so that it does not count toward the lifetime.
import { describe, expect, it } from 'vitest';
import { endOfHold } from '../../../src/queue/consume.js';
import type { DeliveryJobData } from '../../../src/queue/job-data.js';

const job: DeliveryJobData = {
  queueId: 'Q1',
  mailstore: 'store1',
  sender: 'a@remote.test',
  recipients: ['alice@example.com'],
  failures: [],
  receivedAt: 0,
  attempts: 1,
  size: 10,
};

describe('endOfHold', () => {
  it('turns the open hold into a closed interval and forgets heldSince', () => {
    const ended = endOfHold({ ...job, heldSince: 100, heldIntervals: [{ from: 10, to: 20 }] }, 250);
    expect(ended.heldSince).toBeUndefined();
    expect(ended.heldIntervals).toEqual([
      { from: 10, to: 20 },
      { from: 100, to: 250 },
    ]);
  });

  it('leaves a message that was not held as it is', () => {
    expect(endOfHold(job, 250)).toBe(job);
  });
});

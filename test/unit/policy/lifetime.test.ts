// Unit tests for lifetimes that do not count the time a mailstore was held.
import { describe, expect, it } from 'vitest';
import { pausedDuring } from '../../../src/policy/lifetime.js';
import { decideRetry } from '../../../src/policy/retry.js';

const DAY = 86_400_000;
const policy = { schedule: [60_000], lifetimeMs: 5 * DAY, jitter: 0 };

describe('pausedDuring', () => {
  it('counts only the part of each held interval after the message arrived and before now', () => {
    const intervals = [
      { from: 0, to: 2 * DAY },
      { from: 3 * DAY, to: 4 * DAY },
      { from: 9 * DAY, to: 12 * DAY },
    ];
    expect(pausedDuring(intervals, 1 * DAY, 10 * DAY)).toBe(1 * DAY + 1 * DAY + 1 * DAY);
    expect(pausedDuring(intervals, 5 * DAY, 8 * DAY)).toBe(0);
    expect(pausedDuring([], 0, 10 * DAY)).toBe(0);
  });
});

describe('decideRetry with held time', () => {
  it('does not expire mail that arrived 4 days before a 3-day hold when the hold ends', () => {
    const receivedAt = 0;
    const now = 7 * DAY; // 4 days queued, then held 3 days
    expect(decideRetry(policy, receivedAt, 3, now, () => 0.5)).toMatchObject({ kind: 'expired' });
    expect(decideRetry(policy, receivedAt, 3, now, () => 0.5, 3 * DAY)).toEqual({ kind: 'retry', at: now + 60_000 });
  });

  it('expires mail that is past its lifetime even when the held time is taken off', () => {
    expect(decideRetry(policy, 0, 3, 8.5 * DAY, () => 0.5, 3 * DAY)).toEqual({ kind: 'expired', ageMs: 8.5 * DAY });
  });
});

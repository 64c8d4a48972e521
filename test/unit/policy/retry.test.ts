// Unit tests for retry timing and expiry, with the clock and the random source injected.
import { describe, expect, it } from 'vitest';
import { decideRetry, retryDelay, type RetryPolicy } from '../../../src/policy/retry.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const policy: RetryPolicy = { schedule: [MINUTE, 5 * MINUTE, HOUR], lifetimeMs: 24 * HOUR, jitter: 0.2 };

const lowest = () => 0;
const middle = () => 0.5;
const highest = () => 1;

describe('retryDelay', () => {
  it('waits the scheduled interval when the random draw is in the middle', () => {
    expect(retryDelay(policy, 1, middle)).toBe(MINUTE);
    expect(retryDelay(policy, 2, middle)).toBe(5 * MINUTE);
    expect(retryDelay(policy, 3, middle)).toBe(HOUR);
  });

  it('spreads the delay down to 20 % less', () => {
    expect(retryDelay(policy, 2, lowest)).toBe(4 * MINUTE);
  });

  it('spreads the delay up to 20 % more', () => {
    expect(retryDelay(policy, 2, highest)).toBe(6 * MINUTE);
  });

  it('keeps every delay within 20 % of the interval', () => {
    for (let draw = 0; draw <= 1; draw += 0.05) {
      const delay = retryDelay(policy, 3, () => draw);
      expect(delay).toBeGreaterThanOrEqual(0.8 * HOUR);
      expect(delay).toBeLessThanOrEqual(1.2 * HOUR);
    }
  });

  it('repeats the last interval once the schedule runs out', () => {
    expect(retryDelay(policy, 4, middle)).toBe(HOUR);
    expect(retryDelay(policy, 50, middle)).toBe(HOUR);
  });

  it('uses the first interval before any attempt was counted', () => {
    expect(retryDelay(policy, 0, middle)).toBe(MINUTE);
  });

  it('never waits less than a second', () => {
    expect(retryDelay({ ...policy, schedule: [500] }, 1, lowest)).toBe(1000);
  });

  it('does not spread the delay when jitter is zero', () => {
    expect(retryDelay({ ...policy, jitter: 0 }, 1, highest)).toBe(MINUTE);
  });
});

describe('decideRetry', () => {
  const receivedAt = Date.UTC(2026, 10, 23, 10, 0, 0);
  const expiresAt = receivedAt + policy.lifetimeMs;

  it('retries after the scheduled delay counted from now', () => {
    const now = receivedAt + 10 * MINUTE;
    expect(decideRetry(policy, receivedAt, 2, now, middle)).toEqual({ kind: 'retry', at: now + 5 * MINUTE });
  });

  it('applies the jitter to the retry time', () => {
    const now = receivedAt + 10 * MINUTE;
    expect(decideRetry(policy, receivedAt, 2, now, highest)).toEqual({ kind: 'retry', at: now + 6 * MINUTE });
  });

  it('expires the message once its lifetime has run out', () => {
    expect(decideRetry(policy, receivedAt, 30, expiresAt, middle)).toEqual({
      kind: 'expired',
      ageMs: policy.lifetimeMs,
    });
  });

  it('reports the age of a message found well past its lifetime', () => {
    expect(decideRetry(policy, receivedAt, 30, expiresAt + HOUR, middle)).toEqual({
      kind: 'expired',
      ageMs: policy.lifetimeMs + HOUR,
    });
  });

  it('still retries one millisecond before the lifetime ends', () => {
    expect(decideRetry(policy, receivedAt, 30, expiresAt - 1, lowest)).toEqual({ kind: 'retry', at: expiresAt });
  });

  it('never schedules a retry later than the end of the lifetime', () => {
    const now = expiresAt - 10 * MINUTE;
    expect(decideRetry(policy, receivedAt, 30, now, highest)).toEqual({ kind: 'retry', at: expiresAt });
  });
});

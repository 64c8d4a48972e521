// Unit tests for the slow-loris guard's clock: started, paused while Holdfast decides, restarted, ended.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TransactionDeadlines } from '../../../src/smtp/transaction-deadline.js';

describe('TransactionDeadlines', () => {
  let expired: string[];
  let deadlines: TransactionDeadlines;

  beforeEach(() => {
    vi.useFakeTimers();
    expired = [];
    deadlines = new TransactionDeadlines(1000, (sessionId) => expired.push(sessionId));
  });

  afterEach(() => vi.useRealTimers());

  it('expires a session that has not finished a message within the limit', () => {
    deadlines.start('a');
    vi.advanceTimersByTime(999);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['a']);
  });

  it('gives a session the whole limit again after each message', () => {
    deadlines.start('a');
    vi.advanceTimersByTime(900);
    deadlines.restart('a');
    vi.advanceTimersByTime(900);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(expired).toEqual(['a']);
  });

  it('never expires a session while its message is being decided on', () => {
    deadlines.start('a');
    deadlines.pause('a');
    vi.advanceTimersByTime(10_000);
    expect(expired).toEqual([]);
    deadlines.restart('a');
    vi.advanceTimersByTime(1000);
    expect(expired).toEqual(['a']);
  });

  it('does not start the clock again for a session that ended while its message was decided on', () => {
    deadlines.start('a');
    deadlines.pause('a');
    deadlines.end('a');
    deadlines.restart('a');
    vi.advanceTimersByTime(10_000);
    expect(expired).toEqual([]);
  });
});

// Unit tests for the per-store backlog limits.
import { describe, expect, it } from 'vitest';
import { backlogOverLimit, hasBacklogLimit } from '../../../src/policy/backlog-limit.js';

const NONE = { messages: 0, bytes: 0, oldestAge: 0 };
const NOW = 1_000_000_000;

describe('backlog limits', () => {
  it('are off by default: nothing is ever over', () => {
    expect(hasBacklogLimit(NONE)).toBe(false);
    expect(backlogOverLimit({ messages: 1e9, bytes: 1e12, oldestReceivedAt: 0 }, NONE, NOW)).toEqual([]);
  });

  it('name each limit reached, counting from the limit itself', () => {
    const limit = { messages: 10, bytes: 1000, oldestAge: 60_000 };
    expect(hasBacklogLimit(limit)).toBe(true);
    expect(backlogOverLimit({ messages: 9, bytes: 999, oldestReceivedAt: NOW - 59_999 }, limit, NOW)).toEqual([]);
    expect(backlogOverLimit({ messages: 10, bytes: 1000, oldestReceivedAt: NOW - 60_000 }, limit, NOW)).toEqual([
      'messages',
      'bytes',
      'oldestAge',
    ]);
  });

  it('never counts the age of an empty backlog', () => {
    expect(backlogOverLimit({ messages: 0, bytes: 0 }, { ...NONE, oldestAge: 1 }, NOW)).toEqual([]);
  });
});

// Unit tests for queue ids: sortable by time, fixed length, and safe as BullMQ job ids.
import { describe, expect, it } from 'vitest';
import { newQueueId } from '../../../src/queue/queue-id.js';

const ID_PATTERN = /^[0-9BCDFGHJKLMNPQRSTVWXYZ]{17}$/;

describe('newQueueId', () => {
  it('is 17 characters from the vowel-free alphabet, with no colon', () => {
    const id = newQueueId(Date.UTC(2026, 10, 23, 10, 57, 1));
    expect(id).toMatch(ID_PATTERN);
    expect(id).not.toContain(':');
  });

  it('uses the current time when none is given', () => {
    const before = newQueueId(Date.now()).slice(0, 9);
    const id = newQueueId();
    const after = newQueueId(Date.now()).slice(0, 9);
    expect(id).toMatch(ID_PATTERN);
    expect(id.slice(0, 9) >= before && id.slice(0, 9) <= after).toBe(true);
  });

  it('writes the time in base 31 in its first nine characters', () => {
    expect(newQueueId(0).slice(0, 9)).toBe('000000000');
    expect(newQueueId(30).slice(0, 9)).toBe('00000000Z');
    expect(newQueueId(31).slice(0, 9)).toBe('000000010');
    expect(newQueueId(31 * 31 + 2).slice(0, 9)).toBe('000000102');
  });

  it('sorts ids made at increasing times in that order', () => {
    const times = [
      0,
      30,
      31,
      960,
      961,
      Date.UTC(2001, 0, 1),
      Date.UTC(2026, 10, 23, 10, 57, 1),
      Date.UTC(2026, 10, 23, 10, 57, 1) + 1,
      Date.UTC(2100, 0, 1),
    ];
    const ids = times.map((time) => newQueueId(time));
    expect([...ids].sort()).toEqual(ids);
  });

  it('gives different ids to messages received in the same millisecond', () => {
    const now = Date.UTC(2026, 10, 23);
    const ids = new Set(Array.from({ length: 1000 }, () => newQueueId(now)));
    expect(ids.size).toBe(1000);
  });
});

describe('newQueueId with an injected clock', () => {
  it('makes a valid id from a fractional time', () => {
    expect(newQueueId(1.5)).toMatch(/^[0-9BCDFGHJKLMNPQRSTVWXYZ]{17}$/);
  });
});

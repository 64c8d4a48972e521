// Unit tests for held time and lifetimes: merging holds, and the messages that have used a given part of their lifetime.
import { describe, expect, it } from 'vitest';
import { latestArrivalHavingUsed, mergeIntervals, pausedDuring } from '../../../src/policy/lifetime.js';

const HOUR = 3_600_000;
const NOW = 1_000 * HOUR;

describe('latestArrivalHavingUsed', () => {
  it('is simply now minus the time when the store was never held', () => {
    expect(latestArrivalHavingUsed([], NOW, 4 * HOUR)).toBe(NOW - 4 * HOUR);
  });

  it('moves earlier by the held time that falls after the arrival', () => {
    const held = [{ from: NOW - 3 * HOUR, to: NOW - 1 * HOUR }];
    expect(latestArrivalHavingUsed(held, NOW, 4 * HOUR)).toBe(NOW - 6 * HOUR);
  });

  it('lands before a hold when a message arriving during it could not have used enough', () => {
    // Held for the last 10 hours: arrivals within it have used nothing; 4 hours used needs 14 hours back.
    const held = [{ from: NOW - 10 * HOUR, to: NOW }];
    expect(latestArrivalHavingUsed(held, NOW, 4 * HOUR)).toBe(NOW - 14 * HOUR);
  });

  it('agrees with the lifetime arithmetic for every arrival around it', () => {
    const held = [
      { from: NOW - 50 * HOUR, to: NOW - 40 * HOUR },
      { from: NOW - 20 * HOUR, to: NOW - 19 * HOUR },
    ];
    const used = (arrival: number) => NOW - arrival - pausedDuring(held, arrival, NOW);
    const threshold = latestArrivalHavingUsed(held, NOW, 30 * HOUR);
    expect(used(threshold)).toBeGreaterThanOrEqual(30 * HOUR);
    expect(used(threshold + 1)).toBeLessThan(30 * HOUR);
  });
});

describe('mergeIntervals', () => {
  it('counts a message hold that overlaps a store hold once', () => {
    const store = { from: 10, to: 20 };
    const message = { from: 15, to: 30 };
    expect(mergeIntervals([message, store])).toEqual([{ from: 10, to: 30 }]);
    expect(pausedDuring(mergeIntervals([store, message]), 0, 100)).toBe(20);
  });

  it('keeps separate stretches apart, in order', () => {
    expect(
      mergeIntervals([
        { from: 50, to: 60 },
        { from: 10, to: 20 },
      ]),
    ).toEqual([
      { from: 10, to: 20 },
      { from: 50, to: 60 },
    ]);
  });
});

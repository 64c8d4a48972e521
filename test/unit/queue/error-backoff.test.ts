// Unit tests for the backoff of unexpected delivery-processor errors.
import { describe, expect, it } from 'vitest';
import { errorBackoff } from '../../../src/queue/queues.js';

describe('errorBackoff', () => {
  it.each([
    [0, 1000],
    [1, 1000],
    [2, 2000],
    [3, 4000],
    [9, 256_000],
  ])('waits %d attempts in: %d ms', (attemptsMade, delay) => {
    expect(errorBackoff(attemptsMade)).toBe(delay);
  });

  it('caps the wait at five minutes', () => {
    expect(errorBackoff(10)).toBe(300_000);
    expect(errorBackoff(10_000)).toBe(300_000);
  });
});

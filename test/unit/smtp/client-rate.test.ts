// Unit tests for the per-address connection rate (anvil style): the window, the limit, and forgetting old clients.
import { describe, expect, it } from 'vitest';
import { ClientRate } from '../../../src/smtp/client-rate.js';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('ClientRate', () => {
  it('admits the limit of attempts from one address within a minute, and refuses the next', () => {
    const time = clock();
    const rate = new ClientRate(3, time.now);
    expect([1, 2, 3, 4].map(() => rate.admit('192.0.2.1'))).toEqual([true, true, true, false]);
  });

  it('counts each address on its own', () => {
    const rate = new ClientRate(1, clock().now);
    expect(rate.admit('192.0.2.1')).toBe(true);
    expect(rate.admit('192.0.2.2')).toBe(true);
    expect(rate.admit('192.0.2.1')).toBe(false);
  });

  it('keeps counting refused attempts, and admits again once the minute has passed', () => {
    const time = clock();
    const rate = new ClientRate(2, time.now);
    for (let attempt = 0; attempt < 10; attempt++) rate.admit('192.0.2.1');
    time.advance(59_999);
    expect(rate.admit('192.0.2.1')).toBe(false);
    time.advance(1);
    expect(rate.admit('192.0.2.1')).toBe(true);
  });

  it('refuses nothing and remembers nothing with a limit of 0', () => {
    const rate = new ClientRate(0, clock().now);
    for (let attempt = 0; attempt < 1000; attempt++) expect(rate.admit('192.0.2.1')).toBe(true);
    expect(rate.size).toBe(0);
  });

  it('forgets addresses whose minute has passed, so memory follows the recent clients only', () => {
    const time = clock();
    const rate = new ClientRate(5, time.now);
    for (let client = 0; client < 100; client++) rate.admit(`198.51.100.${client}`);
    expect(rate.size).toBe(100);
    time.advance(60_000);
    rate.admit('203.0.113.1');
    expect(rate.size).toBe(1);
  });
});

// Unit tests for the key per-client limits count under: IPv4 as it is, IPv6 by its /64 (or the prefix set).
import { describe, expect, it } from 'vitest';
import { clientKey, clientOf } from '../../../src/smtp/client-key.js';

describe('clientKey', () => {
  it('counts an IPv4 client by its address', () => {
    expect(clientKey('192.0.2.1', 64)).toBe('192.0.2.1');
  });

  it('counts an IPv4-mapped IPv6 address as the IPv4 address it carries', () => {
    expect(clientKey('::ffff:192.0.2.1', 64)).toBe('192.0.2.1');
  });

  it('counts two addresses of one IPv6 /64 as one client, and another /64 as another', () => {
    const first = clientKey('2001:db8:1:2::10', 64);
    expect(first).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:2:ffff:ee:dd:cc', 64)).toBe(first);
    expect(clientKey('2001:db8:1:3::10', 64)).not.toBe(first);
  });

  it('takes a prefix that is not a multiple of 16 bits', () => {
    expect(clientKey('2001:db8:1:2ff::1', 56)).toBe('2001:db8:1:200::/56');
  });

  it('counts each IPv6 address alone with a prefix of 128', () => {
    expect(clientKey('2001:db8::1', 128)).toBe('2001:db8::1');
    expect(clientKey('2001:db8::2', 128)).not.toBe(clientKey('2001:db8::1', 128));
  });

  it('keeps an address it cannot parse as it is', () => {
    expect(clientKey('not-an-address', 64)).toBe('not-an-address');
  });
});

describe('clientOf', () => {
  it("works out a session's client key at the first call and keeps it for the session", () => {
    const session = { remoteAddress: '2001:db8:1:2::10' };
    expect(clientOf(session, 64)).toBe('2001:db8:1:2::/64');
    session.remoteAddress = '192.0.2.1';
    expect(clientOf(session, 64)).toBe('2001:db8:1:2::/64');
    expect(clientOf({ remoteAddress: '192.0.2.1' }, 64)).toBe('192.0.2.1');
  });
});

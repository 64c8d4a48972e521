// Unit tests for the SMTP front's hardening settings: their defaults and what is refused.
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';

const MINIMAL = {
  domains: { 'example.com': { mailstore: 'store1' } },
  mailstores: { store1: { endpoints: ['127.0.0.1:24'] } },
};

/** Any readable file will do as a key and certificate: only reading them is checked here. */
const READABLE = fileURLToPath(import.meta.url);

const validate = (overrides: Record<string, unknown>) =>
  validateConfig({ ...MINIMAL, ...overrides }, { baseDirectory: '/' });

describe('the SMTP front settings', () => {
  it('default to normalised line endings, no PROXY protocol, 2048-octet commands and a 30-minute transaction', () => {
    const result = validate({});
    if (!result.ok) throw new Error(result.problems.join('\n'));
    const { listener, limits } = result.config;
    expect(listener.bareLineEndings).toBe('normalize');
    expect(listener.proxyProtocol).toEqual({ enabled: false, trustedProxies: [] });
    expect(limits.commandLineLength).toBe(2048);
    expect(limits.connections).toEqual({
      total: 1000,
      perIp: 20,
      ratePerIp: 0,
      messageRatePerIp: 0,
      recipientRatePerIp: 0,
      ipv6Prefix: 64,
    });
    expect(limits.timeouts.transaction).toBe(30 * 60_000);
  });

  it('default the TLS minimum to TLSv1.2, leave the ciphers to Node, and look at the files every 5 s', () => {
    const result = validate({ listener: { tls: { key: READABLE, cert: READABLE } } });
    expect(result.ok ? result.config.listener.tls : result.problems).toEqual({
      key: READABLE,
      cert: READABLE,
      minVersion: 'TLSv1.2',
      checkInterval: 5000,
    });
  });

  it("read each listener's certificate files relative to the config file, and name the one that cannot be read", () => {
    const directory = dirname(READABLE);
    const result = validateConfig(
      {
        ...MINIMAL,
        listeners: [
          { host: '::', port: 25, tls: { key: basename(READABLE), cert: basename(READABLE) } },
          { host: '127.0.0.1', port: 587, tls: { key: 'missing-key.pem', cert: basename(READABLE) } },
        ],
      },
      { baseDirectory: directory },
    );
    expect(result.ok ? [] : result.problems).toEqual([
      `listeners.1.tls.key: cannot read ${join(directory, 'missing-key.pem')}`,
    ]);
  });

  it('take trusted proxies as addresses or CIDR blocks, IPv4 or IPv6', () => {
    const trustedProxies = ['192.0.2.1', '10.0.0.0/8', '2001:db8::/32', '::1'];
    const result = validate({ listener: { proxyProtocol: { enabled: true, trustedProxies } } });
    expect(result.ok && result.config.listener.proxyProtocol.trustedProxies).toEqual(trustedProxies);
  });

  it.each([
    [
      { listener: { proxyProtocol: { trustedProxies: ['lb.example.net'] } } },
      'listener.proxyProtocol.trustedProxies.0',
    ],
    [{ listener: { proxyProtocol: { trustedProxies: ['10.0.0.0/33'] } } }, 'listener.proxyProtocol.trustedProxies.0'],
    [{ listener: { bareLineEndings: 'ignore' } }, 'listener.bareLineEndings'],
    [{ listener: { tls: { key: READABLE, cert: READABLE, minVersion: 'SSLv3' } } }, 'listener.tls.minVersion'],
    [{ limits: { commandLineLength: 100 } }, 'limits.commandLineLength'],
    [{ limits: { connections: { ratePerIp: -1 } } }, 'limits.connections.ratePerIp'],
  ])('refuse %j', (overrides, path) => {
    const result = validate(overrides);
    expect(result.ok ? [] : result.problems).toEqual([
      expect.stringMatching(new RegExp(`^${path.replace(/\./g, '\\.')}: `)),
    ]);
  });
});

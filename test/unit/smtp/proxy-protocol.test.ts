// Unit tests for the PROXY protocol header parser: v1 and v2, the client it names, partial and bad headers.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseProxyHeader } from '../../../src/smtp/proxy-protocol.js';
import { proxyV1, proxyV2 } from '../../helpers/proxy-header.js';

const parse = (data: Buffer | string) => parseProxyHeader(typeof data === 'string' ? Buffer.from(data) : data);

describe('parseProxyHeader, v1', () => {
  it('reads the client address and port of a TCP4 header, and its length', () => {
    const header = proxyV1('203.0.113.7', 40123);
    expect(parse(Buffer.concat([header, Buffer.from('EHLO x\r\n')]))).toEqual({
      status: 'complete',
      length: header.length,
      client: { address: '203.0.113.7', port: 40123 },
    });
  });

  it('reads a TCP6 header', () => {
    expect(parse(proxyV1('2001:db8::7'))).toMatchObject({ client: { address: '2001:db8::7', port: 40000 } });
  });

  it('takes an UNKNOWN header as the proxy speaking for itself', () => {
    expect(parse('PROXY UNKNOWN\r\n')).toEqual({ status: 'complete', length: 15, client: undefined });
  });

  it('waits for the rest of a header cut short', () => {
    expect(parse('PROXY TCP4 203.0.113.7 192.0')).toEqual({ status: 'incomplete' });
    expect(parse('PRO')).toEqual({ status: 'incomplete' });
    expect(parse('')).toEqual({ status: 'incomplete' });
  });

  it.each([
    ['EHLO client.test\r\n', 'no PROXY header'],
    ['PROXY TCP5 203.0.113.7 192.0.2.25 1 2\r\n', 'v1 protocol not TCP4, TCP6 or UNKNOWN'],
    ['PROXY TCP4 203.0.113.999 192.0.2.25 1 2\r\n', 'v1 addresses malformed'],
    ['PROXY TCP4 2001:db8::7 192.0.2.25 1 2\r\n', 'v1 addresses malformed'],
    ['PROXY TCP4 203.0.113.7 192.0.2.25 1 2 3\r\n', 'v1 addresses malformed'],
    ['PROXY TCP4 203.0.113.7 192.0.2.25 65536 25\r\n', 'v1 ports malformed'],
    ['PROXY TCP4 203.0.113.7 192.0.2.25 025 25\r\n', 'v1 ports malformed'],
    ['PROXY TCP4 203.0.113.7\r\n', 'v1 addresses malformed'],
    [`PROXY TCP4 ${'1'.repeat(120)}`, 'v1 header too long'],
  ])('refuses %j: %s', (data, reason) => {
    expect(parse(data)).toEqual({ status: 'invalid', reason });
  });
});

describe('parseProxyHeader, v2', () => {
  it('reads the client address and port of a TCP over IPv4 header', () => {
    const header = proxyV2('203.0.113.7', 40123);
    expect(parse(Buffer.concat([header, Buffer.from('EHLO x\r\n')]))).toEqual({
      status: 'complete',
      length: header.length,
      client: { address: '203.0.113.7', port: 40123 },
    });
  });

  it('reads a TCP over IPv6 header, and skips the TLVs after the addresses', () => {
    const header = proxyV2('2001:db8::7', 443, { tlv: Buffer.from([0x20, 0x00, 0x01, 0x00]) });
    const result = parse(header);
    expect(result).toMatchObject({ status: 'complete', length: header.length, client: { port: 443 } });
    expect(result.status === 'complete' && result.client?.address).toBe('2001:db8:0:0:0:0:0:7');
  });

  it('gives an IPv4-mapped IPv6 client as plain IPv4', () => {
    expect(parse(proxyV2('::ffff:cb00:7107'))).toMatchObject({ client: { address: '203.0.113.7' } });
  });

  it('takes a LOCAL header, or an UNSPEC family, as the proxy speaking for itself', () => {
    expect(parse(proxyV2('203.0.113.7', 1, { command: 'LOCAL' }))).toMatchObject({ client: undefined });
    expect(parse(proxyV2('203.0.113.7', 1, { family: 0x00 }))).toMatchObject({ client: undefined });
  });

  it('waits for a header until its announced length has arrived', () => {
    const header = proxyV2('2001:db8::7');
    for (const cut of [1, 12, 15, 16, header.length - 1]) {
      expect(parse(header.subarray(0, cut))).toEqual({ status: 'incomplete' });
    }
  });

  it.each([
    ['version 1', proxyV2('203.0.113.7', 1, { version: 1 }), 'v2 version not 2'],
    ['UDP', proxyV2('203.0.113.7', 1, { family: 0x12 }), 'v2 transport not TCP over IPv4 or IPv6'],
    ['a unix socket', proxyV2('203.0.113.7', 1, { family: 0x31 }), 'v2 transport not TCP over IPv4 or IPv6'],
    ['IPv6 addresses in an IPv4 length', proxyV2('203.0.113.7', 1, { family: 0x21 }), 'v2 IPv6 addresses truncated'],
    ['a header over 2 kB', proxyV2('203.0.113.7', 1, { tlv: Buffer.alloc(4000) }), 'v2 header too long'],
  ])('refuses %s', (_what, header, reason) => {
    expect(parse(header)).toEqual({ status: 'invalid', reason });
  });

  it('never throws, and never reads past the data, whatever bytes follow the signature', () => {
    const signature = proxyV2('203.0.113.7').subarray(0, 12);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const result = parse(Buffer.concat([signature, Buffer.from(bytes)]));
        if (result.status === 'complete') expect(result.length).toBeLessThanOrEqual(12 + bytes.length);
      }),
    );
  });
});

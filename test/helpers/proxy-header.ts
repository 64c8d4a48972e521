// Builds PROXY protocol headers (v1 text, v2 binary) as a load balancer sends them, for tests.
import { isIPv4 } from 'node:net';

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

export function proxyV1(source: string, sourcePort = 40000, destination?: string, destinationPort = 25): Buffer {
  const family = isIPv4(source) ? 'TCP4' : 'TCP6';
  const to = destination ?? (family === 'TCP4' ? '192.0.2.25' : '2001:db8::25');
  return Buffer.from(`PROXY ${family} ${source} ${to} ${sourcePort} ${destinationPort}\r\n`);
}

/** 16 bytes of an IPv6 address written in full or with "::". */
function ipv6Bytes(address: string): Buffer {
  const [head = '', tail] = address.split('::');
  const groups = (part: string) => (part ? part.split(':') : []);
  const missing = 8 - groups(head).length - groups(tail ?? '').length;
  const all = [...groups(head), ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...groups(tail ?? '')];
  const bytes = Buffer.alloc(16);
  all.forEach((group, index) => bytes.writeUInt16BE(parseInt(group, 16), index * 2));
  return bytes;
}

export interface V2Options {
  command?: 'PROXY' | 'LOCAL';
  /** Overrides the version nibble (2), for malformed headers. */
  version?: number;
  /** Extra TLV bytes after the addresses. */
  tlv?: Buffer;
  /** Overrides the family/transport byte. */
  family?: number;
}

export function proxyV2(source: string, sourcePort = 40000, options: V2Options = {}): Buffer {
  const ipv4 = isIPv4(source);
  const addresses = ipv4
    ? Buffer.concat([Buffer.from(source.split('.').map(Number)), Buffer.from([192, 0, 2, 25]), Buffer.alloc(4)])
    : Buffer.concat([ipv6Bytes(source), ipv6Bytes('2001:db8::25'), Buffer.alloc(4)]);
  addresses.writeUInt16BE(sourcePort, addresses.length - 4);
  addresses.writeUInt16BE(25, addresses.length - 2);
  const body = Buffer.concat([addresses, options.tlv ?? Buffer.alloc(0)]);
  const fixed = Buffer.alloc(4);
  fixed[0] = ((options.version ?? 2) << 4) | (options.command === 'LOCAL' ? 0 : 1);
  fixed[1] = options.family ?? (ipv4 ? 0x11 : 0x21);
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([V2_SIGNATURE, fixed, body]);
}

// Reads the PROXY protocol header (HAProxy's spec, v1 text and v2 binary) a load balancer sends first.
import { isIPv4, isIPv6 } from 'node:net';

export interface ClientAddress {
  address: string;
  port: number;
}

export type ProxyHeader =
  | { status: 'incomplete' }
  | { status: 'invalid'; reason: string }
  /** `client` undefined: a LOCAL or UNKNOWN header (the proxy's own health check): use the connection's peer. */
  | { status: 'complete'; length: number; client: ClientAddress | undefined };

const V1_PREFIX = Buffer.from('PROXY ');
/** The spec's longest v1 line: "PROXY TCP6 " + two full IPv6 addresses + two ports + CRLF. */
const V1_MAX_LENGTH = 107;
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED_LENGTH = 16;
/** Addresses take at most 216 bytes; the rest are TLVs (TLS details, ids): generous, but bounded. */
const V2_MAX_LENGTH = 2048;

const invalid = (reason: string): ProxyHeader => ({ status: 'invalid', reason });

/** True when `data` is as much of `expected` as has arrived so far. */
const startsLike = (data: Buffer, expected: Buffer) =>
  data.subarray(0, expected.length).equals(expected.subarray(0, Math.min(data.length, expected.length)));

/** Parses the header at the start of `data` (what the connection sent so far). */
export function parseProxyHeader(data: Buffer): ProxyHeader {
  if (startsLike(data, V2_SIGNATURE)) return parseV2(data);
  if (startsLike(data, V1_PREFIX)) return parseV1(data);
  return invalid('no PROXY header');
}

function parseV1(data: Buffer): ProxyHeader {
  const end = data.subarray(0, V1_MAX_LENGTH).indexOf('\r\n');
  if (end === -1) return data.length >= V1_MAX_LENGTH ? invalid('v1 header too long') : { status: 'incomplete' };
  const fields = data.subarray(0, end).toString('latin1').split(' ');
  const length = end + 2;
  if (fields[1] === 'UNKNOWN') return { status: 'complete', length, client: undefined };
  const [, protocol, source, destination, sourcePort, destinationPort, ...rest] = fields;
  const isAddress = protocol === 'TCP4' ? isIPv4 : protocol === 'TCP6' ? isIPv6 : undefined;
  if (!isAddress) return invalid(`v1 protocol not TCP4, TCP6 or UNKNOWN`);
  if (rest.length > 0 || !isAddress(source ?? '') || !isAddress(destination ?? ''))
    return invalid('v1 addresses malformed');
  const port = parsePort(sourcePort);
  if (port === undefined || parsePort(destinationPort) === undefined) return invalid('v1 ports malformed');
  return { status: 'complete', length, client: { address: source!, port } };
}

/** A decimal port without leading zeros, 0-65535. */
function parsePort(text: string | undefined): number | undefined {
  if (!text || !/^(0|[1-9]\d{0,4})$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

function parseV2(data: Buffer): ProxyHeader {
  if (data.length < V2_FIXED_LENGTH) return { status: 'incomplete' };
  const versionAndCommand = data[12]!;
  const familyAndTransport = data[13]!;
  const addressLength = data.readUInt16BE(14);
  const length = V2_FIXED_LENGTH + addressLength;
  if (versionAndCommand >> 4 !== 2) return invalid('v2 version not 2');
  const command = versionAndCommand & 0x0f;
  if (command > 1) return invalid('v2 command not LOCAL or PROXY');
  if (length > V2_MAX_LENGTH) return invalid('v2 header too long');
  if (data.length < length) return { status: 'incomplete' };
  // LOCAL: the proxy speaks for itself (health checks); UNSPEC: the proxy does not know the client.
  if (command === 0 || familyAndTransport === 0x00) return { status: 'complete', length, client: undefined };
  const addresses = data.subarray(V2_FIXED_LENGTH, length);
  switch (familyAndTransport) {
    case 0x11: // TCP over IPv4: source, destination (4 bytes each), source port, destination port
      if (addresses.length < 12) return invalid('v2 IPv4 addresses truncated');
      return {
        status: 'complete',
        length,
        client: { address: formatIp(addresses.subarray(0, 4)), port: addresses.readUInt16BE(8) },
      };
    case 0x21: // TCP over IPv6: 16 bytes each
      if (addresses.length < 36) return invalid('v2 IPv6 addresses truncated');
      return {
        status: 'complete',
        length,
        client: { address: formatIp(addresses.subarray(0, 16)), port: addresses.readUInt16BE(32) },
      };
    default:
      return invalid('v2 transport not TCP over IPv4 or IPv6');
  }
}

/** Dotted IPv4, or IPv6 as eight hex groups; an IPv4-mapped IPv6 address becomes plain IPv4. */
function formatIp(bytes: Buffer): string {
  const mapped =
    bytes.length === 16 && bytes.subarray(0, 10).every((byte) => byte === 0) && bytes.readUInt16BE(10) === 0xffff;
  if (bytes.length === 4 || mapped) return [...bytes.subarray(-4)].join('.');
  const groups: string[] = [];
  for (let offset = 0; offset < 16; offset += 2) groups.push(bytes.readUInt16BE(offset).toString(16));
  return groups.join(':');
}

// The address per-client limits count under: an IPv4 address as it is, an IPv6 address by its network prefix.
import ipaddr from 'ipaddr.js';

/**
 * One IPv6 subscriber usually holds a whole /64 and can connect from any address in it: counted
 * per address, it would get the per-address limits 2^64 times over. So IPv6 clients are counted by
 * their first `ipv6PrefixBits` bits (64 by default; 128 counts each address alone). IPv4-mapped
 * IPv6 addresses count as the IPv4 address they carry. Anything unparsable counts as itself.
 */
export function clientKey(address: string, ipv6PrefixBits: number): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4' || ipv6PrefixBits >= 128) return parsed.toString();
  const parts = (parsed as ipaddr.IPv6).parts;
  const kept = parts.map((part, index) => {
    const bitsLeft = ipv6PrefixBits - index * 16;
    if (bitsLeft >= 16) return part;
    if (bitsLeft <= 0) return 0;
    return part & (0xffff << (16 - bitsLeft)) & 0xffff;
  });
  return `${new ipaddr.IPv6(kept).toString()}/${ipv6PrefixBits}`;
}

const sessionClients = new WeakMap<object, string>();

/** A session's client key, worked out once: every MAIL and RCPT of the session asks for it again. */
export function clientOf(session: { remoteAddress: string }, ipv6PrefixBits: number): string {
  let client = sessionClients.get(session);
  if (client === undefined) {
    client = clientKey(session.remoteAddress, ipv6PrefixBits);
    sessionClients.set(session, client);
  }
  return client;
}

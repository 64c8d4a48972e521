// Accepts the SMTP listener's TCP connections and hands each to smtp-server, after reading the
// PROXY protocol header (v1 or v2) when the listener sits behind a load balancer: the client
// address it carries is what the session, the logs, the Received header and the per-address
// limits see. smtp-server's own `useProxy` reads v1 only, hence this.
import { BlockList, createServer, isIPv4, isIPv6, type Server, type Socket } from 'node:net';
import type { SMTPServer } from 'smtp-server';
import { parseProxyHeader } from './proxy-protocol.js';
import { startSession } from '../internals/smtp-connection.js';

export interface AcceptorOptions {
  proxyProtocol: { enabled: boolean; trustedProxies: string[] };
  /** How long a proxy may take to send its header. */
  headerTimeoutMs: number;
  /** How long a client waits for the greeting (anyone talking before it is refused). */
  greetingPauseMs: number;
  /** Called for each connection dropped before its SMTP session: the peer's address and why. */
  onRefused: (peer: string, reason: string) => void;
}

export class Acceptor {
  readonly server: Server;
  private readonly trusted: BlockList | undefined;
  /** Connections still owing their PROXY header. */
  private readonly waiting = new Set<Socket>();

  constructor(
    private readonly smtp: SMTPServer,
    private readonly options: AcceptorOptions,
  ) {
    this.trusted = trustList(options.proxyProtocol.trustedProxies);
    this.server = createServer((socket) => {
      if (options.proxyProtocol.enabled) this.readProxyHeader(socket);
      else startSession(smtp, socket, {}, options.greetingPauseMs);
    });
  }

  /** Stops accepting; resolves once every connection it accepted has closed. */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.waiting) socket.destroy();
    return closed;
  }

  private readProxyHeader(socket: Socket): void {
    const peer = plainAddress(socket.remoteAddress ?? '');
    if (this.trusted && !this.trusted.check(peer, isIPv6(peer) ? 'ipv6' : 'ipv4')) {
      socket.destroy();
      return this.options.onRefused(peer, 'untrusted peer');
    }
    const refuse = (reason: string) => {
      finish();
      socket.destroy();
      this.options.onRefused(peer, reason);
    };
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const header = parseProxyHeader(received);
      if (header.status === 'incomplete') return;
      if (header.status === 'invalid') return refuse(header.reason);
      socket.pause(); // smtp-server's parser resumes it: nothing may flow past while nobody listens
      finish();
      const rest = received.subarray(header.length);
      if (rest.length > 0) socket.unshift(rest);
      const client = header.client && { remoteAddress: header.client.address, remotePort: header.client.port };
      startSession(this.smtp, socket, client ?? {}, this.options.greetingPauseMs);
    };
    const onTimeout = () => refuse('no header in time');
    const onError = () => finish();
    const finish = () => {
      this.waiting.delete(socket);
      socket.off('data', onData).off('error', onError).off('close', finish).off('timeout', onTimeout);
      socket.setTimeout(0);
    };
    this.waiting.add(socket);
    socket.on('data', onData).on('error', onError).on('close', finish);
    socket.setTimeout(this.options.headerTimeoutMs, onTimeout);
  }
}

/** The peer as a plain address: a dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d. */
function plainAddress(address: string): string {
  const mapped = /^::ffff:(.+)$/i.exec(address);
  return mapped && isIPv4(mapped[1]!) ? mapped[1]! : address;
}

/** The trusted proxies as a BlockList (addresses and CIDR blocks), or undefined when any peer may speak PROXY. */
function trustList(entries: string[]): BlockList | undefined {
  if (entries.length === 0) return undefined;
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', bits] = entry.split('/');
    const type = isIPv6(address) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

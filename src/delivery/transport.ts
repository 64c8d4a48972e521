// Pooled nodemailer LMTP/SMTP connections to one mailstore endpoint; its callback API is wrapped here.
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { SMTPPool, sendRaw, type SMTPPoolOptions, type SendInfo } from '../internals/nodemailer-pool.js';
import type { Endpoint, MailstoreConfig } from '../config/schema.js';
import { endpointName } from '../config/units.js';

export interface RecipientReply {
  recipient: string;
  reply: string;
}

export type EndpointResult =
  /** The endpoint answered the transaction: one reply per recipient. */
  | { kind: 'answered'; remote: string; replies: RecipientReply[] }
  /** No transaction happened: connection refused, timeout, 421 greeting. */
  | { kind: 'unreachable'; remote: string; error: string };

interface SendError extends Error {
  code?: string;
  response?: string;
  responseCode?: number;
  command?: string;
  rejectedErrors?: Array<{ recipient?: string; response?: string; responseCode?: number }>;
}

export class EndpointClient {
  readonly remote: string;
  private readonly pool: SMTPPool;

  constructor(endpoint: Endpoint, store: MailstoreConfig, hostname: string) {
    this.remote = endpointName(endpoint);
    this.pool = new SMTPPool({
      ...('path' in endpoint ? unixSocket(endpoint.path) : { host: endpoint.host, port: endpoint.port }),
      ...tlsOptions(store.tls, 'path' in endpoint ? undefined : endpoint.host),
      ...authOptions(store.auth),
      lmtp: store.protocol === 'lmtp',
      pool: true,
      maxConnections: store.concurrency,
      maxMessages: 10_000,
      name: hostname,
      connectionTimeout: store.timeouts.connect,
      greetingTimeout: store.timeouts.greeting,
      socketTimeout: store.timeouts.socket,
      logger: false,
    });
  }

  async send(sender: string, recipients: readonly string[], body: Buffer): Promise<EndpointResult> {
    try {
      const info = await sendRaw(this.pool, sender, recipients, body);
      return { kind: 'answered', remote: this.remote, replies: repliesFromInfo(recipients, info) };
    } catch (error) {
      return this.fromError(recipients, error as SendError);
    }
  }

  /** Connects, reads the greeting, says LHLO/EHLO and quits: does the endpoint answer? */
  probe(): Promise<boolean> {
    return new Promise((resolve) => this.pool.verify((error) => resolve(!error)));
  }

  close(): void {
    this.pool.close();
  }

  private fromError(recipients: readonly string[], error: SendError): EndpointResult {
    const rejected = error.rejectedErrors ?? [];
    if (rejected.length > 0 && rejected.every((entry) => entry.recipient && entry.response)) {
      // Every recipient refused, at RCPT or (LMTP) after DATA: each has its own reply.
      const byRecipient = new Map(rejected.map((entry) => [entry.recipient!, entry.response!]));
      const replies = recipients.map((recipient) => ({
        recipient,
        reply: byRecipient.get(recipient) ?? error.response ?? '',
      }));
      return { kind: 'answered', remote: this.remote, replies };
    }
    // Only a reply to the message's own commands (MAIL FROM, RCPT TO, DATA: nodemailer's EENVELOPE
    // and EMESSAGE) speaks of the message. A refusal while the connection is set up (STARTTLS not
    // offered, AUTH refused, LHLO) says the store and Holdfast cannot talk: the endpoint is
    // unreachable, and its mail waits, never bounced.
    const ofTheMessage = error.code === 'EENVELOPE' || error.code === 'EMESSAGE';
    if (ofTheMessage && error.responseCode && error.responseCode !== 421 && error.response) {
      // A reply for the whole transaction (MAIL FROM or DATA refused): it applies to everyone.
      return {
        kind: 'answered',
        remote: this.remote,
        replies: recipients.map((recipient) => ({ recipient, reply: error.response! })),
      };
    }
    return {
      kind: 'unreachable',
      remote: this.remote,
      error: error.response ?? `${error.code ?? 'ERROR'}: ${error.message}`,
    };
  }
}

type PoolOptions = Partial<SMTPPoolOptions>;

/**
 * A store on this machine, over its unix socket (Cyrus's default LMTP): nodemailer's public
 * `getSocket` hands the pool a socket already connected. `host` names the store in TLS and logs.
 */
function unixSocket(path: string): PoolOptions {
  return {
    host: 'localhost',
    getSocket: (_options: unknown, callback: (error: Error | null, socket?: { connection: Socket }) => void) => {
      const socket = connect(path);
      const failed = (error: Error) => callback(error);
      socket.once('error', failed).once('connect', () => {
        socket.off('error', failed);
        callback(null, { connection: socket });
      });
    },
  };
}

/** TLS to the store (none, STARTTLS required, or implicit), verified against the system's CAs or `ca`. */
function tlsOptions(tls: MailstoreConfig['tls'], host: string | undefined): PoolOptions {
  if (tls.mode === 'none') return { secure: false, ignoreTLS: true };
  return {
    secure: tls.mode === 'implicit',
    requireTLS: tls.mode === 'starttls',
    tls: {
      rejectUnauthorized: tls.verify,
      ...(tls.ca === undefined ? {} : { ca: readFileSync(tls.ca) }),
      ...((tls.servername ?? host) ? { servername: tls.servername ?? host } : {}),
    },
  };
}

/** LMTP/SMTP AUTH, the password read from its file once, here: it is never logged. */
function authOptions(auth: MailstoreConfig['auth']): PoolOptions {
  if (!auth) return {};
  const pass = auth.pass ?? readFileSync(auth.passFile!, 'utf8').trim();
  return { auth: { user: auth.user, pass }, ...(auth.method === undefined ? {} : { authMethod: auth.method }) };
}

/**
 * nodemailer reports refused recipients with their own reply; accepted ones only through
 * `accepted`, and `response` is the reply to the last recipient (LMTP), which may be a refusal.
 * An accepted recipient never inherits another recipient's reply.
 */
function repliesFromInfo(recipients: readonly string[], info: SendInfo): RecipientReply[] {
  const refused = new Map((info.rejectedErrors ?? []).map((entry) => [entry.recipient ?? '', entry.response ?? '']));
  const accepted = new Set(info.accepted.map((entry) => (typeof entry === 'string' ? entry : entry.address)));
  const acceptedReply = info.response.startsWith('2') ? info.response : '250 2.0.0 Ok';
  return recipients.map((recipient) => {
    const reply = refused.get(recipient) ?? (accepted.has(recipient) ? acceptedReply : undefined);
    // Neither accepted nor refused: no answer for it, try again rather than guess.
    return { recipient, reply: reply ?? '451 4.4.0 no reply for this recipient' };
  });
}

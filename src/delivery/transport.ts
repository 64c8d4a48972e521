// Pooled nodemailer LMTP/SMTP connections to one mailstore endpoint; its callback API is wrapped here.
import { Readable } from 'node:stream';
import SMTPPool from 'nodemailer/lib/smtp-pool';
import type { Endpoint, MailstoreConfig } from '../config/schema.js';

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

interface SendInfo {
  accepted: Array<string | { address: string }>;
  response: string;
  rejectedErrors?: Array<{ recipient?: string; response?: string }>;
}

/** What the pool reads of a message: its envelope, an id for its own log lines, and the bytes. */
interface PreparedMessage {
  data: Record<string, never>;
  message: {
    getEnvelope(): { from: string; to: string[] };
    messageId(): string;
    getHeader(name: string): string;
    createReadStream(): Readable;
  };
}

/**
 * A queued message as nodemailer's pool takes it. sendMail would build a MIME node around the raw
 * bytes first (headers parsed, a Message-ID made, a stream pipeline per delivery), all for output
 * equal to its input: 7 % of a delivery process's profile samples (100 KB messages), for nothing. The stream is a
 * new Readable per attempt, so the pool can tell that a dropped connection read none of it and
 * send it again on another one.
 */
function prepared(sender: string, recipients: readonly string[], body: Buffer): PreparedMessage {
  return {
    data: {},
    message: {
      getEnvelope: () => ({ from: sender, to: [...recipients] }),
      messageId: () => '',
      getHeader: () => '',
      createReadStream: () => Readable.from([body], { objectMode: false }),
    },
  };
}

export class EndpointClient {
  readonly remote: string;
  private readonly pool: SMTPPool;

  constructor(endpoint: Endpoint, store: MailstoreConfig, hostname: string) {
    this.remote = `${endpoint.host}:${endpoint.port}`;
    this.pool = new SMTPPool({
      host: endpoint.host,
      port: endpoint.port,
      lmtp: store.protocol === 'lmtp',
      pool: true,
      maxConnections: store.concurrency,
      maxMessages: 10_000,
      name: hostname,
      secure: false,
      ignoreTLS: true,
      connectionTimeout: store.timeouts.connect,
      greetingTimeout: store.timeouts.greeting,
      socketTimeout: store.timeouts.socket,
      logger: false,
    });
  }

  async send(sender: string, recipients: readonly string[], body: Buffer): Promise<EndpointResult> {
    try {
      const info = await this.sendPrepared(prepared(sender, recipients, body));
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

  private sendPrepared(message: PreparedMessage): Promise<SendInfo> {
    return new Promise((resolve, reject) => {
      // The pool reads only the fields of PreparedMessage (smtp-pool/index.js, pool-resource.js).
      this.pool.send(message as unknown as Parameters<SMTPPool['send']>[0], (error, info) =>
        error ? reject(error) : resolve(info as unknown as SendInfo),
      );
    });
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
    if (error.responseCode && error.responseCode !== 421 && error.response) {
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

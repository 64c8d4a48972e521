// Pooled nodemailer LMTP/SMTP connections to one mailstore endpoint; its callback API is wrapped here.
import nodemailer from 'nodemailer';
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

export class EndpointClient {
  readonly remote: string;
  private readonly transport: ReturnType<typeof nodemailer.createTransport>;

  constructor(endpoint: Endpoint, store: MailstoreConfig, hostname: string) {
    this.remote = `${endpoint.host}:${endpoint.port}`;
    this.transport = nodemailer.createTransport({
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
      const info = (await this.transport.sendMail({
        envelope: { from: sender, to: [...recipients] },
        raw: body,
      })) as unknown as SendInfo;
      return { kind: 'answered', remote: this.remote, replies: repliesFromInfo(recipients, info) };
    } catch (error) {
      return this.fromError(recipients, error as SendError);
    }
  }

  /** Connects, reads the greeting, says LHLO/EHLO and quits: does the endpoint answer? */
  async probe(): Promise<boolean> {
    try {
      return await this.transport.verify();
    } catch {
      return false;
    }
  }

  close(): void {
    this.transport.close();
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

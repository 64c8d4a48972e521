// A fake mailstore: a real smtp-server speaking LMTP (or SMTP) in-process, recording what it receives.
import { SMTPServer, type SMTPServerDataResult } from 'smtp-server';

export interface ReceivedMessage {
  from: string;
  to: string[];
  body: string;
}

interface ReplyError extends Error {
  responseCode: number;
}

/** Reply for one recipient: '250' to accept, or e.g. '450 4.2.0 try later'. */
export type ReplyScript = (recipient: string, deliveryNumber: number) => string;

export class FakeMailstore {
  readonly messages: ReceivedMessage[] = [];
  /** Every recipient's reply in order: what the relay was told. */
  readonly replies: Array<{ recipient: string; reply: string }> = [];
  port = 0;
  replyFor: ReplyScript = () => '250';
  /** Awaited after each message's final dot, before the store replies (a store slow to answer). */
  beforeReply: (() => Promise<void>) | undefined;
  private server: SMTPServer | undefined;
  private transactions = 0;

  constructor(private readonly protocol: 'lmtp' | 'smtp' = 'lmtp') {}

  /** Deliveries (after DATA) per recipient that were accepted. */
  delivered(recipient: string): ReceivedMessage[] {
    return this.messages.filter((message) => message.to.includes(recipient));
  }

  async start(port = this.port): Promise<number> {
    this.server = new SMTPServer({
      lmtp: this.protocol === 'lmtp',
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on(
          'end',
          () =>
            void (this.beforeReply?.() ?? Promise.resolve()).then(() => {
              const number = ++this.transactions;
              const body = Buffer.concat(chunks).toString('utf8');
              const recipients = session.envelope.rcptTo.map((address) => address.address);
              const results: SMTPServerDataResult[] = [];
              const accepted: string[] = [];
              for (const recipient of recipients) {
                const reply = this.replyFor(recipient, number);
                this.replies.push({ recipient, reply });
                if (reply.startsWith('2')) {
                  accepted.push(recipient);
                  results.push('Ok delivered');
                } else {
                  const error = new Error(reply.slice(4)) as ReplyError;
                  error.responseCode = Number(reply.slice(0, 3));
                  results.push(error);
                }
              }
              if (accepted.length > 0) {
                const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
                this.messages.push({ from: sender, to: accepted, body });
              }
              if (this.protocol === 'lmtp') callback(null, results);
              else callback(results.find((result) => result instanceof Error) ?? null, 'Ok');
            }),
        );
      },
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', () => resolve()));
    const address = this.server.server.address();
    this.port = typeof address === 'object' && address ? address.port : port;
    return this.port;
  }

  /** Closes the listener and every open connection: the store now refuses connections. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const connection of (server as unknown as { connections: Set<{ close(): void }> }).connections)
      connection.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

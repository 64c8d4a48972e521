// A fake mailstore: a real smtp-server speaking LMTP (or SMTP) in-process, recording what it receives.
import { SMTPServer, type SMTPServerDataResult } from 'smtp-server';
import { freePort } from './ports.js';

export interface ReceivedMessage {
  from: string;
  to: string[];
  body: string;
}

interface ReplyError extends Error {
  responseCode: number;
}

/** How the store listens and whom it lets in (all optional: plain LMTP on 127.0.0.1, no AUTH). */
export interface FakeMailstoreOptions {
  /** AUTH PLAIN/LOGIN with these credentials, required before MAIL FROM (430, as Cyrus's lmtpd). */
  auth?: { user: string; pass: string };
  /** Listen on this unix socket instead of a TCP port. */
  socketPath?: string;
  /** STARTTLS with this certificate (or TLS from the first byte with `implicit`). */
  tls?: { key: Buffer; cert: Buffer; implicit?: boolean };
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

  /** The user name each transaction authenticated as (undefined: none). */
  readonly authenticatedAs: Array<string | undefined> = [];

  constructor(
    private readonly protocol: 'lmtp' | 'smtp' = 'lmtp',
    private readonly options: FakeMailstoreOptions = {},
  ) {}

  /** Deliveries (after DATA) per recipient that were accepted. */
  delivered(recipient: string): ReceivedMessage[] {
    return this.messages.filter((message) => message.to.includes(recipient));
  }

  async start(port = this.port): Promise<number> {
    const { auth, tls, socketPath } = this.options;
    this.server = new SMTPServer({
      lmtp: this.protocol === 'lmtp',
      authOptional: !auth,
      // smtp-server offers AUTH only over TLS unless told otherwise; a store on a trusted network does.
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      disabledCommands: [...(auth ? [] : ['AUTH']), ...(tls ? [] : ['STARTTLS'])],
      ...(tls ? { key: tls.key, cert: tls.cert, secure: tls.implicit === true } : {}),
      logger: false,
      onAuth: (credentials, _session, callback) => {
        if (auth && credentials.username === auth.user && credentials.password === auth.pass)
          return callback(null, { user: credentials.username });
        const error = new Error('Authentication failed') as ReplyError;
        error.responseCode = 535;
        return callback(error);
      },
      onMailFrom: (_address, session, callback) => {
        if (auth && !session.user) {
          const error = new Error('Authentication required') as ReplyError;
          error.responseCode = 430;
          return callback(error);
        }
        callback();
      },
      onData: (stream, session, callback) => {
        this.authenticatedAs.push(typeof session.user === 'string' ? session.user : undefined);
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
    if (socketPath) {
      await new Promise<void>((resolve) => this.server!.listen(socketPath, () => resolve()));
      return 0;
    }
    if (port) await listenOn(this.server, port);
    else await listenOnFreePort(this.server);
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

/**
 * Listens on 127.0.0.1:port, the port of a store that was down. Test ports lie below the ephemeral
 * range, where no outgoing connection can hold them (ports.ts), but a port taken for another reason
 * is tried again for a few seconds; any other failure, or still taken, fails the test instead of
 * hanging it.
 */
async function listenOn(server: SMTPServer, port: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const error = await listenOnce(server, port);
    if (!error) return;
    if (error.code !== 'EADDRINUSE' || Date.now() > deadline) throw error;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Listens on a free port below the ephemeral range (see ports.ts); another if a parallel test took it first. */
async function listenOnFreePort(server: SMTPServer): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const error = await listenOnce(server, await freePort());
    if (!error) return;
    if (error.code !== 'EADDRINUSE' || attempt >= 20) throw error;
  }
}

function listenOnce(server: SMTPServer, port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const failed = (cause: NodeJS.ErrnoException) => resolve(cause);
    server.once('error', failed);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', failed);
      resolve(undefined);
    });
  });
}

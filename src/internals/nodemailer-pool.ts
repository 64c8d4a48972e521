// FENCED: reaches into nodemailer's pool. Checked by test/integration/internals-nodemailer.test.ts,
// which fails when nodemailer changes what this relies on.
//
// Holdfast delivers through nodemailer's SMTP/LMTP pool (`nodemailer/lib/smtp-pool`, the class
// behind `createTransport({ pool: true })`), and hands it a prepared message instead of going
// through `sendMail`: sendMail would build a MIME node around the raw bytes first (headers parsed,
// a Message-ID made, a stream pipeline per delivery), all for output equal to its input: 7 % of a
// delivery process's profile samples (100 KB messages), for nothing. The pool reads only the
// fields of PreparedMessage (smtp-pool/index.js, smtp-pool/pool-resource.js).
import { Readable } from 'node:stream';
import SMTPPool, { type SMTPPoolOptions } from 'nodemailer/lib/smtp-pool';

export { SMTPPool, type SMTPPoolOptions };

/** What the pool reports of a delivery it completed. */
export interface SendInfo {
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
 * Sends `body` as it is to `recipients`. The stream is a new Readable per attempt, so the pool
 * can tell that a dropped connection read none of it and send it again on another one.
 */
export function sendRaw(
  pool: SMTPPool,
  sender: string,
  recipients: readonly string[],
  body: Buffer,
): Promise<SendInfo> {
  const message: PreparedMessage = {
    data: {},
    message: {
      getEnvelope: () => ({ from: sender, to: [...recipients] }),
      messageId: () => '',
      getHeader: () => '',
      createReadStream: () => Readable.from([body], { objectMode: false }),
    },
  };
  return new Promise((resolve, reject) => {
    pool.send(message as unknown as Parameters<SMTPPool['send']>[0], (error, info) =>
      error ? reject(error) : resolve(info as unknown as SendInfo),
    );
  });
}

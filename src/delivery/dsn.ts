// Builds an RFC 3464 delivery status notification (multipart/report) for failed recipients.
import { randomBytes } from 'node:crypto';
import type { RecipientFailure } from '../queue/job-data.js';

/** RFC 3463 4.4.7: delivery time expired. Holdfast's own status for mail that outlived its lifetime. */
export const EXPIRED_STATUS = '4.4.7';

export interface DsnInput {
  reportingHost: string;
  from: string;
  /** The original envelope sender, who receives the report. */
  to: string;
  queueId: string;
  arrivalDate: Date;
  date: Date;
  failures: readonly RecipientFailure[];
  /** The original message; only its header block is returned. */
  original: Buffer;
}

/** The header block of a message: everything up to the first empty line. */
export function headerBlock(message: Buffer): string {
  if (message[0] === 0x0a || (message[0] === 0x0d && message[1] === 0x0a)) return ''; // no header section
  const crlf = message.indexOf('\r\n\r\n');
  const lf = message.indexOf('\n\n');
  const ends = [crlf, lf].filter((index) => index >= 0);
  const end = ends.length > 0 ? Math.min(...ends) : message.length;
  return message
    .subarray(0, Math.min(end, 256 * 1024))
    .toString('utf8')
    .replace(/\r?\n/g, '\r\n');
}

const date = (value: Date) => value.toUTCString().replace(/GMT$/, '+0000');
const oneLine = (value: string) => value.replace(/[\r\n]+/g, ' ').trim();

export function buildDsn(input: DsnInput): Buffer {
  const boundary = `holdfast-${randomBytes(12).toString('hex')}`;
  const expired = input.failures.some((failure) => failure.status === EXPIRED_STATUS);
  const human = [
    `This is the mail system at host ${input.reportingHost}.`,
    '',
    expired
      ? 'Your message could not be delivered to one or more recipients before it expired.'
      : 'Your message could not be delivered to one or more recipients. Its headers are attached below.',
    '',
    ...input.failures.map((failure) => `<${failure.recipient}>: ${oneLine(failure.reply)}`),
    '',
  ].join('\r\n');
  const perMessage = [
    `Reporting-MTA: dns; ${input.reportingHost}`,
    `X-Holdfast-Queue-ID: ${input.queueId}`,
    `Arrival-Date: ${date(input.arrivalDate)}`,
  ];
  const perRecipient = input.failures.map((failure) =>
    [
      `Final-Recipient: rfc822; ${failure.recipient}`,
      `Action: failed`,
      `Status: ${failure.status.replace(/^4\./, '5.')}`,
      ...(failure.remote ? [`Remote-MTA: dns; ${failure.remote.replace(/:\d+$/, '')}`] : []),
      `Diagnostic-Code: smtp; ${oneLine(failure.reply)}`,
      `Last-Attempt-Date: ${date(input.date)}`,
    ].join('\r\n'),
  );
  const message = [
    `From: Mail Delivery System <${input.from}>`,
    `To: <${input.to}>`,
    `Subject: Undelivered Mail Returned to Sender`,
    `Date: ${date(input.date)}`,
    `Message-ID: <${input.queueId}.${input.date.getTime()}.dsn@${input.reportingHost}>`,
    `Auto-Submitted: auto-replied`,
    `MIME-Version: 1.0`,
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    human,
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    [perMessage.join('\r\n'), ...perRecipient].join('\r\n\r\n'),
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
    headerBlock(input.original),
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');
  return Buffer.from(message, 'utf8');
}

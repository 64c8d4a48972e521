// Every reply Holdfast's SMTP front gives of its own, with its RFC 5321/3463 codes.

export const REPLIES = {
  queued: { code: 250, status: '2.0.0', text: 'Ok: queued as %s' },
  shuttingDown: { code: 421, status: '4.3.2', text: 'Service shutting down, try again later' },
  tooManyConnections: { code: 421, status: '4.7.0', text: 'Too many connections, try again later' },
  tooManyFromYou: { code: 421, status: '4.7.0', text: 'Too many connections from your address, try again later' },
  connectionRate: {
    code: 421,
    status: '4.7.0',
    text: 'Too many connections from your address this minute, try again later',
  },
  messageRate: { code: 450, status: '4.7.1', text: 'Too much mail from your address this minute, try again later' },
  recipientRate: {
    code: 450,
    status: '4.7.1',
    text: 'Too many recipients from your address this minute, try again later',
  },
  transactionTimeout: { code: 421, status: '4.4.2', text: 'Took too long to send a message, closing connection' },
  localError: { code: 451, status: '4.3.0', text: 'Temporary local problem, try again later' },
  storageFull: { code: 452, status: '4.3.1', text: 'Insufficient system storage, try again later' },
  tooManyRecipients: { code: 452, status: '4.5.3', text: 'Too many recipients' },
  mailstoreBacklogFull: {
    code: 452,
    status: '4.3.1',
    text: 'Mailbox server has too much mail queued, try again later',
  },
  userUnknown: { code: 550, status: '5.1.1', text: 'Recipient address rejected: User unknown' },
  relayDenied: { code: 550, status: '5.7.1', text: 'Relay access denied' },
  localPartTooLong: { code: 501, status: '5.1.3', text: 'Recipient address rejected: local part over 64 octets' },
  commandNotAscii: { code: 500, status: '5.5.2', text: 'Error: command not recognized (commands are ASCII)' },
  addressNotUtf8: { code: 501, status: '5.5.4', text: 'Error: address is not valid UTF-8' },
  addressNeedsSmtputf8: {
    code: 553,
    status: '5.6.7',
    text: 'Error: a non-ASCII address needs the SMTPUTF8 parameter on MAIL FROM',
  },
  sourceRouted: {
    code: 550,
    status: '5.7.1',
    text: 'Recipient address rejected: sender-specified routing (% or !) is not accepted',
  },
  bareLineEnding: {
    code: 550,
    status: '5.5.2',
    text: 'Message refused: bare <CR> or <LF> received, lines must end with <CR><LF>',
  },
} as const;

export type ReplyName = keyof typeof REPLIES;

export interface SmtpReplyError extends Error {
  responseCode: number;
}

export function replyText(name: ReplyName, argument?: string): string {
  const reply = REPLIES[name];
  return `${reply.status} ${argument === undefined ? reply.text : reply.text.replace('%s', argument)}`;
}

/** An error smtp-server turns into this reply (its `responseCode` convention). */
export function replyError(name: ReplyName, argument?: string): SmtpReplyError {
  const error = new Error(replyText(name, argument)) as SmtpReplyError;
  error.responseCode = REPLIES[name].code;
  return error;
}

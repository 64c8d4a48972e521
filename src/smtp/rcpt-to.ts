// RCPT TO stage: routes the recipient to its mailstore; unknown users and other domains are refused.
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import { EVENTS } from '../observability/events.js';
import { replyError } from './replies.js';
import type { SmtpContext } from './context.js';
import type { SmtpSession } from './session.js';

/** RFC 5321 section 4.5.3.1.1; smtp-server checks only the whole path (253 octets). */
const MAX_LOCAL_PART = 64;

/** Sender-specified routing in a local part: the percent hack and UUCP bang paths. */
const SENDER_ROUTING = /[%!]/;

/** What comes before the last @ (all of it for the domainless `postmaster`). */
function localPart(address: string): string {
  const at = address.lastIndexOf('@');
  return at === -1 ? address : address.slice(0, at);
}

export async function onRcptTo(
  context: SmtpContext,
  state: SmtpSession,
  address: SMTPServerAddress,
  session: SMTPServerSession,
): Promise<void> {
  const { transaction } = state;
  if (!transaction) throw replyError('localError'); // smtp-server enforces MAIL before RCPT
  if (transaction.recipientCount >= context.config.limits.maxRecipients) throw replyError('tooManyRecipients');
  const recipient = address.address;
  const log = context.logger.child({ queueId: transaction.queueId, client: session.remoteAddress, recipient });
  if (!context.recipientRate.admit(state.client)) {
    log.info(
      { event: EVENTS.rejection, stage: 'rcpt', reason: 'recipient-rate' },
      'recipient deferred: too many recipients from this client this minute',
    );
    throw replyError('recipientRate');
  }
  if (Buffer.byteLength(localPart(recipient), 'utf8') > MAX_LOCAL_PART) {
    log.info(
      { event: EVENTS.rejection, stage: 'rcpt', reason: 'local-part-too-long' },
      'recipient refused: local part too long',
    );
    throw replyError('localPartTooLong');
  }
  if (SENDER_ROUTING.test(localPart(recipient))) {
    // user%host@here and host!user@here ask this MX to relay onward: refused, as Postfix does
    // with allow_untrusted_routing = no (a source route, @relay:user@here, is dropped by the parser).
    log.info({ event: EVENTS.rejection, stage: 'rcpt', reason: 'source-routed' }, 'recipient refused: source-routed');
    throw replyError('sourceRouted');
  }
  let route;
  try {
    route = await context.router.resolve(recipient);
  } catch (error) {
    log.warn({ event: EVENTS.redisUnavailable, stage: 'rcpt', err: error }, 'routing lookup failed: 451');
    throw replyError('localError');
  }
  switch (route.kind) {
    case 'not-local':
      log.info(
        { event: EVENTS.rejection, stage: 'rcpt', reason: 'relay-denied' },
        'recipient refused: not a local domain',
      );
      throw replyError('relayDenied');
    case 'unknown-user':
      log.info({ event: EVENTS.rejection, stage: 'rcpt', reason: 'user-unknown' }, 'recipient refused: unknown user');
      throw replyError('userUnknown');
    case 'mailstore': {
      if (context.mailstoreFull(route.mailstore)) {
        log.warn(
          { event: EVENTS.rejection, stage: 'rcpt', reason: 'backlog-limit', mailstore: route.mailstore },
          'recipient deferred: its mailstore backlog is over its limit',
        );
        throw replyError('mailstoreBacklogFull');
      }
      const recipients = transaction.recipientsByMailstore.get(route.mailstore) ?? [];
      if (!recipients.includes(recipient)) recipients.push(recipient);
      transaction.recipientsByMailstore.set(route.mailstore, recipients);
      transaction.recipientCount++;
    }
  }
}

// MAIL FROM stage: opens a transaction with its queue id, or refuses while storage is short.
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import { EVENTS } from '../observability/events.js';
import { newQueueId } from '../queue/queue-id.js';
import { replyError } from './replies.js';
import type { SmtpContext } from './context.js';
import type { SmtpSession } from './session.js';

export function onMailFrom(
  context: SmtpContext,
  state: SmtpSession,
  address: SMTPServerAddress,
  session: SMTPServerSession,
): void {
  if (context.draining) throw replyError('shuttingDown');
  if (context.storageFull()) {
    context.logger.warn(
      { event: EVENTS.rejection, stage: 'mail', client: session.remoteAddress, reason: 'storage-full' },
      'mail refused: redis memory above high-water mark',
    );
    throw replyError('storageFull');
  }
  if (!context.messageRate.admit(state.client)) {
    context.logger.info(
      { event: EVENTS.rejection, stage: 'mail', client: session.remoteAddress, reason: 'message-rate' },
      'mail deferred: too many messages from this client this minute',
    );
    throw replyError('messageRate');
  }
  state.transaction = {
    queueId: newQueueId(),
    sender: address.address,
    recipientsByMailstore: new Map(),
    recipientCount: 0,
  };
}

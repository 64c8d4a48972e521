// DATA stage: reads the message, adds the trace header, and answers 250 only once it is durable.
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { EVENTS } from '../observability/events.js';
import { receivedHeader } from './received-header.js';
import { headerMessageId } from './message-id.js';
import { replyError, replyText } from './replies.js';
import type { SmtpContext } from './context.js';

/** Reads the whole message; resolves null when the client went away before the final dot. */
function readMessage(stream: SMTPServerDataStream): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', () => resolve(null));
    stream.once('close', () => resolve(stream.readableEnded ? Buffer.concat(chunks) : null));
  });
}

export async function onData(
  context: SmtpContext,
  stream: SMTPServerDataStream,
  session: SMTPServerSession,
): Promise<string> {
  const transaction = context.transactions.get(session.id);
  context.inFlight++;
  try {
    const received = await readMessage(stream);
    if (!transaction || received === null) {
      // Nothing was written to Redis: a message is only stored whole, after the final dot.
      context.logger.info(
        { event: EVENTS.receptionFailed, client: session.remoteAddress, reason: 'disconnected' },
        'client left during DATA',
      );
      throw replyError('localError');
    }
    if (stream.sizeExceeded) throw replyError('localError'); // smtp-server answers 552 itself (rejectOversized)
    const { config, logger } = context;
    const recipients = [...transaction.recipientsByMailstore.values()].flat();
    const header = receivedHeader({
      helo: session.hostNameAppearsAs,
      clientHostname: session.clientHostname,
      clientAddress: session.remoteAddress,
      hostname: config.listener.hostname,
      protocol: session.secure ? 'ESMTPS' : 'ESMTP',
      queueId: transaction.queueId,
      recipient: recipients.length === 1 ? recipients[0] : undefined,
      date: new Date(),
    });
    const body = Buffer.concat([Buffer.from(header, 'latin1'), received]);
    const log = logger.child({ queueId: transaction.queueId });
    const started = performance.now();
    try {
      await context.enqueue({
        queueId: transaction.queueId,
        sender: transaction.sender,
        recipientsByMailstore: transaction.recipientsByMailstore,
        body,
        receivedAt: context.now(),
        client: session.remoteAddress,
        messageId: headerMessageId(received),
      });
    } catch (error) {
      log.warn(
        { event: EVENTS.receptionFailed, err: error, client: session.remoteAddress },
        'message not committed: 451',
      );
      throw replyError('localError');
    }
    log.info(
      {
        event: EVENTS.reception,
        sender: transaction.sender,
        recipients,
        mailstores: [...transaction.recipientsByMailstore.keys()],
        size: body.length,
        client: session.remoteAddress,
        commitMs: Math.round(performance.now() - started),
      },
      'message queued',
    );
    return replyText('queued', transaction.queueId);
  } finally {
    context.inFlight--;
    context.transactions.delete(session.id);
  }
}

// DATA stage: reads the message, adds the trace header, and answers 250 only once it is durable.
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { EVENTS } from '../observability/events.js';
import { receivedHeader } from './received-header.js';
import { headerMessageId } from './message-id.js';
import { replyError, replyText } from './replies.js';
import { BodyCollector } from './body.js';
import { LineEndings, bareLineEndingRefusal } from './line-endings.js';
import type { SmtpContext } from './context.js';
import type { SmtpSession } from './session.js';

/**
 * Reads the whole message into the collector, pausing while it writes to the spool; resolves false
 * when the client went away before the final dot.
 */
function readMessage(
  stream: SMTPServerDataStream,
  collector: BodyCollector,
  lineEndings: LineEndings,
): Promise<boolean> {
  return new Promise((resolve) => {
    let writing: Promise<void> = Promise.resolve();
    stream.on('data', (chunk: Buffer) => {
      const written = collector.add(lineEndings.push(chunk));
      if (!written) return;
      stream.pause();
      writing = written.finally(() => stream.resume());
    });
    const settle = (complete: boolean) => void writing.then(() => resolve(complete));
    stream.once('end', () => settle(true));
    stream.once('error', () => settle(false));
    stream.once('close', () => settle(stream.readableEnded));
  });
}

/**
 * The reply for a message that could not be committed: 452 when Redis is out of memory (its OOM
 * error, or a transaction aborted because of one), else 451.
 */
export function notCommitted(error: unknown) {
  const errors = [error, ...((error as { previousErrors?: unknown[] } | null)?.previousErrors ?? [])];
  return errors.some((each) => /^OOM\b/.test((each as Error | null)?.message ?? ''))
    ? replyError('storageFull')
    : replyError('localError');
}

export async function onData(
  context: SmtpContext,
  state: SmtpSession,
  stream: SMTPServerDataStream,
  session: SMTPServerSession,
): Promise<string> {
  const { transaction } = state;
  context.inFlight++;
  try {
    if (!transaction) {
      stream.resume();
      throw replyError('localError');
    }
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
      date: new Date(context.now()),
    });
    const { maxMessageSize, messageBuffer } = config.limits;
    const lineEndings = new LineEndings(config.listener.bareLineEndings);
    const collector = new BodyCollector(
      Buffer.from(header, 'latin1'),
      { threshold: messageBuffer, maxSize: lineEndings.storedSize(maxMessageSize) },
      context.incoming(transaction.queueId, [...transaction.recipientsByMailstore.keys()]),
    );
    const complete = await readMessage(stream, collector, lineEndings);
    await collector.add(lineEndings.end());
    if (!complete || stream.sizeExceeded || collector.overflowed || collector.failed !== undefined) {
      // Nothing was committed: a message is only queued whole, after the final dot.
      await collector.discard();
      if (collector.failed !== undefined && complete) {
        logger.warn(
          { event: EVENTS.receptionFailed, err: collector.failed, client: session.remoteAddress },
          'message body not written: not committed',
        );
        throw notCommitted(collector.failed);
      }
      if (!complete) {
        logger.info(
          { event: EVENTS.receptionFailed, client: session.remoteAddress, reason: 'disconnected' },
          'client left during DATA',
        );
      }
      throw replyError('localError'); // for an oversized message smtp-server answers 552 itself (rejectOversized)
    }
    if (lineEndings.refused) {
      await collector.discard();
      throw bareLineEndingRefusal(context, session, lineEndings.bare);
    }
    const body = collector.rest();
    const log = logger.child({ queueId: transaction.queueId });
    const started = performance.now();
    try {
      await context.enqueue({
        queueId: transaction.queueId,
        sender: transaction.sender,
        recipientsByMailstore: transaction.recipientsByMailstore,
        body,
        spooled: collector.spooled,
        receivedAt: context.now(),
        client: session.remoteAddress,
        messageId: headerMessageId(collector.spooled > 0 ? collector.start() : body),
      });
    } catch (error) {
      await collector.discard();
      log.warn(
        { event: EVENTS.receptionFailed, err: error, client: session.remoteAddress },
        'message not committed: 451',
      );
      throw notCommitted(error);
    }
    log.info(
      {
        event: EVENTS.reception,
        sender: transaction.sender,
        recipients,
        mailstores: [...transaction.recipientsByMailstore.keys()],
        size: collector.spooled + body.length,
        client: session.remoteAddress,
        commitMs: Math.round(performance.now() - started),
      },
      'message queued',
    );
    return replyText('queued', transaction.queueId);
  } finally {
    context.inFlight--;
    state.transaction = undefined;
  }
}

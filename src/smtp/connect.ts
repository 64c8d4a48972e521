// Connection stage: refuses with 421 when draining, over the total and per-address limits, or the per-address rate.
import type { SMTPServerSession } from 'smtp-server';
import { EVENTS } from '../observability/events.js';
import { replyError } from './replies.js';
import type { SmtpContext } from './context.js';

const counted = new WeakSet<SMTPServerSession>();

export function onConnect(context: SmtpContext, session: SMTPServerSession): void {
  const { connections } = context.config.limits;
  const address = session.remoteAddress;
  const fromAddress = context.connectionsByAddress.get(address) ?? 0;
  const refuse = (reason: 'shuttingDown' | 'tooManyConnections' | 'tooManyFromYou' | 'connectionRate') => {
    context.logger.info({ event: EVENTS.rejection, stage: 'connect', client: address, reason }, 'connection refused');
    return replyError(reason);
  };
  if (context.draining) throw refuse('shuttingDown');
  const withinRate = context.connectionRate.admit(address); // every attempt counts, refused ones too
  if (context.openConnections >= connections.total) throw refuse('tooManyConnections');
  if (fromAddress >= connections.perIp) throw refuse('tooManyFromYou');
  if (!withinRate) throw refuse('connectionRate');
  context.connectionsByAddress.set(address, fromAddress + 1);
  context.openConnections++;
  counted.add(session);
}

export function onClose(context: SmtpContext, session: SMTPServerSession): void {
  context.transactions.delete(session.id);
  if (!counted.delete(session)) return;
  context.openConnections--;
  const left = (context.connectionsByAddress.get(session.remoteAddress) ?? 1) - 1;
  if (left <= 0) context.connectionsByAddress.delete(session.remoteAddress);
  else context.connectionsByAddress.set(session.remoteAddress, left);
}

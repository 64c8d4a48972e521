// Connection stage: refuses with 421 when draining, over the total and per-client limits, or the per-client rate.
import type { SMTPServerSession } from 'smtp-server';
import { EVENTS } from '../observability/events.js';
import { replyError } from './replies.js';
import type { SmtpContext } from './context.js';
import { clientKey } from './client-key.js';

/** The key each counted session's connection was counted under, to be uncounted when it closes. */
const counted = new WeakMap<SMTPServerSession, string>();

export function onConnect(context: SmtpContext, session: SMTPServerSession): void {
  const { connections } = context.config.limits;
  const address = session.remoteAddress;
  const client = clientKey(address, connections.ipv6Prefix);
  const fromAddress = context.connectionsByAddress.get(client) ?? 0;
  const refuse = (reason: 'shuttingDown' | 'tooManyConnections' | 'tooManyFromYou' | 'connectionRate') => {
    context.logger.info({ event: EVENTS.rejection, stage: 'connect', client: address, reason }, 'connection refused');
    return replyError(reason);
  };
  if (context.draining) throw refuse('shuttingDown');
  const withinRate = context.connectionRate.admit(client); // every attempt counts, refused ones too
  if (context.openConnections >= connections.total) throw refuse('tooManyConnections');
  if (fromAddress >= connections.perIp) throw refuse('tooManyFromYou');
  if (!withinRate) throw refuse('connectionRate');
  context.connectionsByAddress.set(client, fromAddress + 1);
  context.openConnections++;
  counted.set(session, client);
}

export function onClose(context: SmtpContext, session: SMTPServerSession): void {
  context.transactions.delete(session.id);
  const client = counted.get(session);
  if (client === undefined) return;
  counted.delete(session);
  context.openConnections--;
  const left = (context.connectionsByAddress.get(client) ?? 1) - 1;
  if (left <= 0) context.connectionsByAddress.delete(client);
  else context.connectionsByAddress.set(client, left);
}

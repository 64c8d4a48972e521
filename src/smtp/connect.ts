// Connection stage: refuses with 421 when draining, over the total and per-client limits, or the per-client rate.
import type { SMTPServerSession } from 'smtp-server';
import { EVENTS } from '../observability/events.js';
import { replyError } from './replies.js';
import type { SmtpContext } from './context.js';
import { clientOf } from './client-key.js';

/** Admits the connection, or throws its refusal; returns the client key it now counts against. */
export function onConnect(context: SmtpContext, session: SMTPServerSession): string {
  const { connections } = context.config.limits;
  const address = session.remoteAddress;
  const client = clientOf(session, connections.ipv6Prefix);
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
  return client;
}

/** An admitted connection closed: it no longer counts against its client or the total. */
export function onClose(context: SmtpContext, client: string): void {
  context.openConnections--;
  const left = (context.connectionsByAddress.get(client) ?? 1) - 1;
  if (left <= 0) context.connectionsByAddress.delete(client);
  else context.connectionsByAddress.set(client, left);
}

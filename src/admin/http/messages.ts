// /api/v1/messages: find queued messages (filter, paginate), read one, act on a selection (with a dry run).
import { refused, failure } from '../../errors.js';
import type { FastifyInstance } from 'fastify';
import {
  API_PREFIX,
  messageActionRequest,
  messageListQuery,
  toMessageFilter,
  traceQuery,
  type TraceResponse,
  type MessageActionResponse,
  type MessageDetail,
  type MessageListResponse,
} from '../api.js';
import type { MessageAdmin } from '../messages.js';
import type { TraceAdmin } from '../trace.js';

export interface MessageRouteDeps {
  messageAdmin: MessageAdmin;
  traceAdmin: TraceAdmin;
}

export function registerMessageRoutes(server: FastifyInstance, deps: MessageRouteDeps): void {
  const admin = deps.messageAdmin;

  server.get(`${API_PREFIX}/messages`, async (request): Promise<MessageListResponse> => {
    const query = messageListQuery.parse(request.query);
    const { state, limit, offset, ...filter } = query;
    const selected = (await admin.select(toMessageFilter(filter))).filter(
      (message) => state === undefined || message.state === state,
    );
    // Oldest first: the order in which a store delivers its mail.
    selected.sort((a, b) => a.receivedAt - b.receivedAt || a.queueId.localeCompare(b.queueId));
    return { messages: selected.slice(offset, offset + limit), total: selected.length, offset, limit };
  });

  /** The trace of messages by queue id, Message-ID or recipient, most recently active first. */
  server.get(`${API_PREFIX}/trace`, async (request): Promise<TraceResponse> => {
    const query = traceQuery.parse(request.query);
    return { messages: await deps.traceAdmin.lookup(query) };
  });

  server.get(`${API_PREFIX}/messages/:queueId`, async (request): Promise<MessageDetail> => {
    const { queueId } = request.params as { queueId: string };
    const detail = await admin.detail(queueId);
    if (!detail) throw failure('NOT_FOUND', `no message ${queueId} (delivered, deleted, or never here)`);
    const [traced] = await deps.traceAdmin.lookup({ queueId, limit: 1 });
    return { ...detail, events: traced?.events ?? [] };
  });

  server.post(`${API_PREFIX}/messages/actions`, async (request): Promise<MessageActionResponse> => {
    const body = messageActionRequest.parse(request.body);
    const filter = toMessageFilter(body.filter);
    if (Object.keys(filter).length === 0 && !body.all) {
      throw refused('select messages (queueId, store, recipient, sender, olderThan) or say all: true');
    }
    return admin.act(body.action, filter, { dryRun: body.dryRun, reason: body.reason, by: body.by ?? 'api' });
  });
}

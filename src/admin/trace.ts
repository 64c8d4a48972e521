// Looks up message traces by queue id, Message-ID or recipient: the operation behind the HTTP API and the CLI.
import { refused } from '../errors.js';
import type { Trace, TraceEvent } from '../repositories/trace.js';

/** What to look for; criteria given together must all match. */
export interface TraceQuery {
  queueId?: string;
  /** With or without its angle brackets. */
  messageId?: string;
  /** Any case. */
  recipient?: string;
  /** At most this many messages (default 50, at most 1000). */
  limit?: number;
}

export interface TracedMessage {
  queueId: string;
  /** Oldest first. */
  events: TraceEvent[];
}

export const DEFAULT_TRACE_LIMIT = 50;
export const MAX_TRACE_LIMIT = 1000;

export class TraceAdmin {
  constructor(private readonly trace: Trace) {}

  /**
   * The matching messages with their events, the most recently active first. Messages whose
   * trace has passed its retention are not returned.
   */
  async lookup(query: TraceQuery): Promise<TracedMessage[]> {
    const limit = query.limit ?? DEFAULT_TRACE_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TRACE_LIMIT) {
      throw refused(`limit must be a whole number from 1 to ${MAX_TRACE_LIMIT}`);
    }
    const criteria = {
      queueId: blankToUndefined(query.queueId),
      messageId: blankToUndefined(query.messageId),
      recipient: blankToUndefined(query.recipient)?.toLowerCase(),
    };
    if (Object.values(criteria).every((value) => value === undefined)) {
      throw refused('give a queue id, a Message-ID or a recipient');
    }
    const candidates = await this.candidates(criteria, limit);
    const events = await this.trace.eventsOf(candidates);
    return candidates
      .map((queueId) => ({ queueId, events: events.get(queueId) ?? [] }))
      .filter((message) => message.events.length > 0)
      .filter((message) => criteria.recipient === undefined || names(message, criteria.recipient))
      .sort((first, second) => latest(second) - latest(first))
      .slice(0, limit);
  }

  /**
   * Queue ids worth reading: the queue id, else the Message-ID's messages, else the recipient's.
   * The other criteria are checked afterwards (the recipient against the events read).
   */
  private async candidates(query: TraceQuery, limit: number): Promise<string[]> {
    const { queueId, messageId, recipient } = query;
    if (messageId !== undefined) {
      const found = await this.trace.findByMessageId(messageId);
      return queueId === undefined ? found : found.filter((id) => id === queueId);
    }
    if (queueId !== undefined) return [queueId];
    return recipient === undefined ? [] : this.trace.findByRecipient(recipient, limit);
  }
}

function names(message: TracedMessage, recipient: string): boolean {
  return message.events.some((event) => event.recipients?.some((address) => address.toLowerCase() === recipient));
}

function latest(message: TracedMessage): number {
  return message.events.at(-1)?.at ?? 0;
}

function blankToUndefined(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

// Operator operations on queued messages, selected by store, recipient, sender or age; always with a dry run.
import { describeFilter, pastTense } from './api.js';
import { refused } from '../errors.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import type { ActionOutcome, MessageControls, QueuedMessage, StoredEnvelope } from '../queue/message-controls.js';
import type { MessageAuditEntry } from '../policy/mailstore-state.js';
import type { MailstoreControls } from '../repositories/mailstore-controls.js';
import type { MessageEvents, Trace } from '../repositories/trace.js';
import { systemClock, type Clock } from '../clock.js';

export interface MessageFilter {
  queueId?: string;
  mailstore?: string;
  recipient?: string;
  sender?: string;
  olderThanMs?: number;
}

/** What an operator can do to queued messages, one by one or in bulk. */
export type MessageAction = 'hold' | 'release' | 'retry' | 'delete';

export interface BulkResult {
  action: MessageAction;
  dryRun: boolean;
  matched: number;
  bytes: number;
  users: number;
  /** Messages the action changed (0 in a dry run). */
  done: number;
  /** Already in the wanted state (held, released, due), or not concerned (kept mail is not held). */
  unchanged: string[];
  /** Being delivered at that moment: try again. */
  skipped: string[];
}

export function matches(message: QueuedMessage, filter: MessageFilter, now: number): boolean {
  const lower = (value: string) => value.toLowerCase();
  if (filter.queueId !== undefined && message.queueId !== filter.queueId) return false;
  if (filter.recipient && !message.recipients.some((recipient) => lower(recipient) === lower(filter.recipient!)))
    return false;
  if (filter.sender !== undefined && lower(message.sender) !== lower(filter.sender)) return false;
  if (filter.olderThanMs !== undefined && now - message.receivedAt < filter.olderThanMs) return false;
  return true;
}

export class MessageAdmin {
  constructor(
    private readonly config: Config,
    private readonly messages: MessageControls,
    private readonly mailstores: MailstoreControls,
    private readonly logger: Logger,
    private readonly now: Clock = systemClock,
    /** Where each message changed gets its `held` ... `deleted` event, when given. */
    private readonly trace?: Trace,
  ) {}

  /** One message: its envelope, header block and queued jobs; null when Holdfast no longer has it. */
  async detail(queueId: string): Promise<(StoredEnvelope & { jobs: QueuedMessage[] }) | null> {
    const jobs = await this.select({ queueId });
    const envelope = await this.messages.envelope(queueId, jobs);
    if (!envelope) return null;
    return { ...envelope, jobs };
  }

  async select(filter: MessageFilter): Promise<QueuedMessage[]> {
    if (filter.mailstore && !Object.hasOwn(this.config.mailstores, filter.mailstore)) {
      throw refused(`unknown mailstore "${filter.mailstore}"`);
    }
    const stores = filter.mailstore ? [filter.mailstore] : Object.keys(this.config.mailstores);
    const now = this.now();
    const lists = await Promise.all(stores.map((mailstore) => this.messages.list(mailstore)));
    return lists.flat().filter((message) => matches(message, filter, now));
  }

  /**
   * Holds, releases, retries or deletes the selected messages; logged and audited with who and
   * why. A dry run only counts. Deleting and holding need a reason.
   */
  async act(
    action: MessageAction,
    filter: MessageFilter,
    options: { dryRun: boolean; by: string; reason?: string },
  ): Promise<BulkResult> {
    const reason = options.reason?.trim() ?? '';
    if (!options.dryRun && reason === '' && (action === 'delete' || action === 'hold')) {
      throw refused(`to ${action} messages, give a reason`);
    }
    const selected = await this.select(filter);
    const result: BulkResult = {
      action,
      dryRun: options.dryRun,
      matched: selected.length,
      bytes: selected.reduce((total, message) => total + message.size, 0),
      users: new Set(selected.flatMap((message) => message.recipients.map((recipient) => recipient.toLowerCase())))
        .size,
      done: 0,
      unchanged: [],
      skipped: [],
    };
    if (options.dryRun) return result;
    const changed: QueuedMessage[] = [];
    for (const message of selected) {
      const outcome = await this.apply(action, message);
      if (outcome === 'done') changed.push(message);
      else if (outcome === 'busy') result.skipped.push(message.queueId);
      else result.unchanged.push(message.queueId);
    }
    const done = changed.map((message) => message.queueId);
    result.done = done.length;
    const entry: MessageAuditEntry = {
      at: this.now(),
      action: `${action}-messages`,
      by: options.by,
      reason,
      filter: describeFilter(filter),
      count: done.length,
      queueIds: done,
    };
    await this.mailstores.appendAudit(entry);
    this.logger.warn({ event: MESSAGE_EVENTS[action], ...entry }, `${pastTense(action)} ${done.length} messages`);
    await this.trace?.recordAll(changed.map((message) => traceOf(action, message, entry)));
    return result;
  }

  private async apply(action: MessageAction, message: QueuedMessage): Promise<ActionOutcome> {
    switch (action) {
      case 'delete':
        return (await this.messages.remove(message)) ? 'done' : 'busy';
      case 'hold':
        return this.messages.hold(message);
      case 'release':
        return this.messages.release(message);
      case 'retry':
        return this.messages.retry(message);
    }
  }
}

function traceOf(action: MessageAction, message: QueuedMessage, entry: MessageAuditEntry): MessageEvents {
  const { queueId, mailstore, recipients, messageId } = message;
  const event = { at: entry.at, queueId, kind: pastTense(action), mailstore, recipients, by: entry.by };
  return { messageId, events: [entry.reason === '' ? event : { ...event, detail: entry.reason }] };
}

const MESSAGE_EVENTS = {
  hold: EVENTS.messagesHeld,
  release: EVENTS.messagesReleased,
  retry: EVENTS.messagesRetried,
  delete: EVENTS.messagesDeleted,
} as const;

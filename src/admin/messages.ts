// Operator operations on queued messages, selected by store, recipient, sender or age; always with a dry run.
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import type { MessageControls, QueuedMessage } from '../queue/message-controls.js';
import type { MailstoreControls } from '../queue/mailstore-controls.js';

export class MessageAdminError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MessageAdminError';
  }
}

export interface MessageFilter {
  mailstore?: string;
  recipient?: string;
  sender?: string;
  olderThanMs?: number;
}

export interface BulkResult {
  dryRun: boolean;
  matched: number;
  bytes: number;
  users: number;
  /** Deleted (0 in a dry run); messages being delivered at that moment are skipped. */
  deleted: number;
  skipped: string[];
}

export function describeFilter(filter: MessageFilter): string {
  const parts = Object.entries(filter).filter(([, value]) => value !== undefined);
  return parts.map(([key, value]) => `${key}=${String(value)}`).join(' ') || 'all';
}

export function matches(message: QueuedMessage, filter: MessageFilter, now: number): boolean {
  const lower = (value: string) => value.toLowerCase();
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
    private readonly now: () => number = Date.now,
  ) {}

  async select(filter: MessageFilter): Promise<QueuedMessage[]> {
    if (filter.mailstore && !Object.hasOwn(this.config.mailstores, filter.mailstore)) {
      throw new MessageAdminError(`unknown mailstore "${filter.mailstore}"`);
    }
    const stores = filter.mailstore ? [filter.mailstore] : Object.keys(this.config.mailstores);
    const now = this.now();
    const lists = await Promise.all(stores.map((mailstore) => this.messages.list(mailstore)));
    return lists.flat().filter((message) => matches(message, filter, now));
  }

  /** Deletes the selected messages (logged and audited with who and why); a dry run only counts. */
  async delete(filter: MessageFilter, options: { dryRun: boolean; by: string; reason: string }): Promise<BulkResult> {
    if (!options.dryRun && options.reason.trim() === '') throw new MessageAdminError('a deletion needs a reason');
    const selected = await this.select(filter);
    const result: BulkResult = {
      dryRun: options.dryRun,
      matched: selected.length,
      bytes: selected.reduce((total, message) => total + message.size, 0),
      users: new Set(selected.flatMap((message) => message.recipients.map((recipient) => recipient.toLowerCase())))
        .size,
      deleted: 0,
      skipped: [],
    };
    if (options.dryRun) return result;
    const deleted: string[] = [];
    for (const message of selected) {
      if (await this.messages.remove(message)) deleted.push(message.queueId);
      else result.skipped.push(message.queueId);
    }
    result.deleted = deleted.length;
    const entry = {
      at: this.now(),
      action: 'delete' as const,
      by: options.by,
      reason: options.reason,
      filter: describeFilter(filter),
      count: deleted.length,
      queueIds: deleted,
    };
    await this.mailstores.appendAudit(entry);
    this.logger.warn({ event: EVENTS.messagesDeleted, ...entry }, `deleted ${deleted.length} messages`);
    return result;
  }
}

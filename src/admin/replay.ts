// Replays retained copies of delivered mail to a store restored from a lagging replica; a dry run only counts.
import { refused } from '../errors.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import type { MailstoreState, ReplayAuditEntry } from '../policy/mailstore-state.js';
import {
  replayWindowProblem,
  selectForReplay,
  summarize,
  withReplayHeader,
  type ReplayFilter,
  type ReplayItem,
  type ReplaySummary,
} from '../policy/retention.js';
import { enqueueMessage, type EnqueueOptions } from '../queue/enqueue.js';
import type { MailstoreControls } from '../repositories/mailstore-controls.js';
import { newQueueId } from '../queue/queue-id.js';
import type { MailQueues } from '../queue/queues.js';
import type { RetainedMail } from '../repositories/retained-copies.js';
import type { MessageEvents, Trace } from '../repositories/trace.js';
import type { MailstoreAdmin } from './mailstores.js';

export interface ReplayRequest extends ReplayFilter {
  dryRun: boolean;
  by: string;
  reason?: string;
}

export interface ReplayResult extends ReplaySummary {
  mailstore: string;
  dryRun: boolean;
  since: number;
  until: number;
  recipient?: string;
  /** Messages queued again (0 in a dry run). */
  replayed: number;
  /** Selected, but their copy was dropped (period, budget) before it could be read. */
  missing: number;
  /** Whether the store keeps copies now (its config on the node that answered). */
  retentionEnabled: boolean;
  /** Copies of mail delivered up to this time were dropped or never kept: a window starting earlier is incomplete. */
  gapUntil?: number;
  /** The state the replayed mail meets: `releasing` paces it like a release (not in a dry run). */
  state?: MailstoreState;
}

export interface ReplayDependencies {
  config: Config;
  retained: RetainedMail;
  queues: MailQueues;
  mailstoreAdmin: MailstoreAdmin;
  controls: MailstoreControls;
  enqueueOptions: EnqueueOptions;
  logger: Logger;
  now: () => number;
  trace?: Trace;
  metrics?: { replayed(mailstore: string, count: number): void };
}

/** Replayed messages committed at once: Redis groups their fsyncs, and memory holds this many bodies. */
const PARALLEL = 16;

export const DEFAULT_REPLAY_REASON = 'replay of delivered mail';

export class ReplayAdmin {
  constructor(private readonly deps: ReplayDependencies) {}

  /**
   * Queues again, as new messages for `mailstore` only, the retained deliveries to it within the
   * window (for the recipients delivered there, or only `recipient`), each with an
   * X-Holdfast-Replay header naming the delivered queue id. Audited and logged; a dry run counts.
   */
  async replay(mailstore: string, request: ReplayRequest): Promise<ReplayResult> {
    const { config, retained, now } = this.deps;
    if (!Object.hasOwn(config.mailstores, mailstore)) throw refused(`unknown mailstore "${mailstore}"`);
    const problem = replayWindowProblem(request, now());
    if (problem) throw refused(problem);
    const [entries, status] = await Promise.all([
      retained.entries(mailstore, request.since, request.until),
      retained.status(mailstore),
    ]);
    const items = selectForReplay(entries, request);
    const result: ReplayResult = {
      mailstore,
      dryRun: request.dryRun,
      since: request.since,
      until: request.until,
      ...(request.recipient === undefined ? {} : { recipient: request.recipient }),
      ...summarize(items),
      replayed: 0,
      missing: 0,
      retentionEnabled: config.mailstores[mailstore]!.retention.enabled,
      ...(status.gapUntil === undefined ? {} : { gapUntil: status.gapUntil }),
    };
    if (request.dryRun) return result;
    const reason = request.reason?.trim() || DEFAULT_REPLAY_REASON;
    if (items.length > 0) {
      const pacing = { by: request.by, reason: `replay of ${items.length} messages: ${reason}` };
      result.state = await this.deps.mailstoreAdmin.paceReplay(mailstore, pacing);
    }
    const traced: MessageEvents[] = [];
    try {
      for (let start = 0; start < items.length; start += PARALLEL) {
        const outcomes = await Promise.all(
          items.slice(start, start + PARALLEL).map((item) => this.requeue(mailstore, item, request.by, reason)),
        );
        for (const outcome of outcomes) {
          if (outcome) traced.push(outcome);
          else result.missing++;
        }
        result.replayed = traced.length;
      }
    } finally {
      await this.record(result, request, reason, traced);
    }
    return result;
  }

  /** One retained delivery queued again; its `replayed` trace event, or undefined when its copy is gone. */
  private async requeue(
    mailstore: string,
    item: ReplayItem,
    by: string,
    reason: string,
  ): Promise<MessageEvents | undefined> {
    const { retained, queues, now, enqueueOptions, trace } = this.deps;
    const body = await retained.body(mailstore, item.entryId);
    if (body === null) return undefined;
    const { delivery } = item;
    const at = now();
    const queueId = newQueueId(at);
    await enqueueMessage(
      queues,
      {
        queueId,
        sender: delivery.sender,
        recipientsByMailstore: new Map([[mailstore, item.recipients]]),
        body: withReplayHeader(body, delivery.queueId),
        receivedAt: at,
        client: 'replay',
        ...(delivery.messageId === undefined ? {} : { messageId: delivery.messageId }),
        replayOf: delivery.queueId,
      },
      { ...enqueueOptions, trace },
    );
    const event = { at, queueId: delivery.queueId, kind: 'replayed' as const, mailstore, by };
    return {
      messageId: delivery.messageId,
      events: [{ ...event, recipients: item.recipients, detail: `queued again as ${queueId}: ${reason}` }],
    };
  }

  /** The audit entry, log record, trace events and metric of what was replayed (also when the replay stopped midway). */
  private async record(
    result: ReplayResult,
    request: ReplayRequest,
    reason: string,
    traced: MessageEvents[],
  ): Promise<void> {
    const { controls, logger, trace, metrics, now } = this.deps;
    const entry: ReplayAuditEntry = {
      at: now(),
      action: 'replay',
      mailstore: result.mailstore,
      by: request.by,
      reason,
      since: result.since,
      until: result.until,
      ...(result.recipient === undefined ? {} : { recipient: result.recipient }),
      count: result.replayed,
      bytes: result.bytes,
      users: result.users,
    };
    logger.warn(
      { event: EVENTS.messagesReplayed, ...entry, selected: result.messages, missing: result.missing },
      `replayed ${result.replayed} messages`,
    );
    metrics?.replayed(result.mailstore, result.replayed);
    await trace?.recordAll(traced);
    await controls.appendAudit(entry);
  }
}

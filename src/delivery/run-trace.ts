// Collects one delivery run's trace events; they are recorded together when the run ends.
import type { TraceEvent, TraceKind } from '../repositories/trace.js';
import type { RecipientReply } from './transport.js';

type Details = Omit<TraceEvent, 'at' | 'queueId' | 'kind'>;

export class RunTrace {
  readonly events: TraceEvent[] = [];

  constructor(
    private readonly job: { queueId: string; mailstore: string },
    private readonly now: () => number,
  ) {}

  add(kind: TraceKind, details: Details): void {
    this.events.push({ at: this.now(), queueId: this.job.queueId, kind, mailstore: this.job.mailstore, ...details });
  }

  /** One event per distinct reply: recipients that got the same answer share it. */
  addByReply(kind: TraceKind, replies: readonly RecipientReply[], details: Details = {}): void {
    const byReply = new Map<string, string[]>();
    for (const { recipient, reply } of replies) byReply.set(reply, [...(byReply.get(reply) ?? []), recipient]);
    for (const [reply, recipients] of byReply) this.add(kind, { ...details, recipients, reply });
  }

  /** The deferrals of this run will be tried again at `retryAt`. */
  deferredUntil(retryAt: number): void {
    for (const event of this.events) if (event.kind === 'deferred') event.retryAt = retryAt;
  }
}

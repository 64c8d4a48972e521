// After an attempt delivered recipients: keeps the store's copy for replay (the safety net), never failing the delivery.
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import type { DeliveryJobData } from '../queue/job-data.js';
import type { Dropped, RetainedMail, RetentionSettings } from '../repositories/retained-copies.js';
import type { RetainedDelivery } from '../policy/retention.js';
import { storedSize } from '../queue/body-codec.js';

/** Why a copy was not kept: the outcomes of storing it, and what kept it from being stored. */
export type NotKept = 'too-big' | 'no-room' | 'memory' | 'error';

/** What retention reports (delivery does not import prom-client). */
export interface RetentionMetrics {
  retained(mailstore: string): void;
  discarded(mailstore: string, reason: keyof Dropped | NotKept, count: number): void;
}

export interface RetainContext {
  retained: RetainedMail;
  settings: (mailstore: string) => RetentionSettings;
  /** False while Redis memory is too close to the high-water mark for new copies. */
  hasRoom: () => boolean;
  now: () => number;
  logger: Logger;
  metrics?: RetentionMetrics;
}

/** Keeps a copy of what this attempt delivered; one per (job, attempt), so a job run again after a crash stores it once. */
export type Retainer = (job: DeliveryJobData, jobId: string, recipients: string[], body: Buffer) => Promise<void>;

export function createRetainer(context: RetainContext): Retainer {
  return async (job, jobId, recipients, body) => {
    const settings = context.settings(job.mailstore);
    // A replay is kept as its original: keeping it again would replay it twice next time.
    if (!settings.enabled || job.replayOf !== undefined || recipients.length === 0) return;
    const deliveredAt = context.now();
    const log = context.logger.child({ queueId: job.queueId, mailstore: job.mailstore });
    const notKept = (reason: NotKept, detail: object = {}) => {
      context.metrics?.discarded(job.mailstore, reason, 1);
      const level = reason === 'memory' ? 'debug' : 'warn';
      log[level]({ event: EVENTS.retentionSkipped, reason, ...detail }, 'delivered copy not retained');
    };
    if (!context.hasRoom()) {
      notKept('memory');
      await context.retained.markGap(job.mailstore, deliveredAt).catch(() => undefined);
      return;
    }
    const delivery: RetainedDelivery = {
      queueId: job.queueId,
      mailstore: job.mailstore,
      sender: job.sender,
      recipients,
      ...(job.messageId === undefined ? {} : { messageId: job.messageId }),
      size: job.size,
      deliveredAt,
    };
    try {
      const entryId = `${jobId}.${job.attempts}`;
      const stored = storedSize(body);
      const { outcome, dropped } = await context.retained.store(
        entryId,
        delivery,
        { jobId, ownCopy: job.ownCopy },
        stored,
        settings,
      );
      if (outcome === 'kept') context.metrics?.retained(job.mailstore);
      if (outcome === 'too-big' || outcome === 'no-room') notKept(outcome, { size: job.size });
      if (outcome === 'gone') notKept('error', { detail: 'the queued body was gone' });
      context.metrics?.discarded(job.mailstore, 'expired', dropped.expired);
      context.metrics?.discarded(job.mailstore, 'budget', dropped.budget);
    } catch (error) {
      notKept('error', { err: error });
      await context.retained.markGap(job.mailstore, deliveredAt).catch(() => undefined);
    }
  };
}

// One delivery attempt for a (message, mailstore) job, and what should happen to the job next.
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import type { DeliveryJobData, RecipientFailure } from '../queue/job-data.js';
import type { DeliverFunction, DeliveryOutcome } from '../queue/consume.js';
import { decideRetry } from '../policy/retry.js';
import { mergeIntervals, pausedDuring, type PausedInterval } from '../policy/lifetime.js';
import type { MailstoreClient } from './mailstore-client.js';
import { recordAttempt } from './attempt-outcome.js';
import { watchForTrip, type TripContext } from './trip.js';
import { rerouteRecipients, type RerouteContext } from './reroute.js';
import { settleSuspects, suspectWakeAt, watchForBurst, type GuardContext } from './suspects.js';
import type { RecipientReply } from './transport.js';
import { sendBounces } from './bounces.js';
import { EXPIRED_STATUS } from './dsn.js';
import type { DeliveryMetrics } from '../observability/metrics.js';
import type { AttemptResult } from './mailstore-client.js';
import type { OutcomeCounts } from '../policy/guard.js';
import type { BounceSender } from './dsn-sender.js';
import type { TraceEvent } from '../repositories/trace.js';
import { RunTrace } from './run-trace.js';
import type { Retainer } from './retain.js';

export interface DeliveryContext extends GuardContext, TripContext, RerouteContext {
  config: Config;
  logger: Logger;
  clients: ReadonlyMap<string, MailstoreClient>;
  bounceSender: BounceSender | undefined;
  now: () => number;
  random: () => number;
  /** When the mailstore was held: that time does not count toward a message's lifetime. */
  pausedIntervals: (mailstore: string, now: number) => Promise<PausedInterval[]>;
  metrics?: DeliveryMetrics;
  /**
   * Adds a run's events to the message trace, without waiting: a trace failure never holds up mail.
   * `receivedAt` is when the reception indexed the message (events soon after leave its index as is).
   */
  recordTrace: (events: TraceEvent[], messageId: string | undefined, receivedAt: number) => void;
  /** Keeps a copy of what an attempt delivered, for replay (never throws). */
  retain?: Retainer;
}

/** How long to wait before trying again to send a bounce the smarthost did not take. */
export const BOUNCE_RETRY_MS = 5 * 60_000;
const JITTER = 0.2;

export function createDeliverer(context: DeliveryContext): DeliverFunction {
  return async (data, body, checkpoint, jobId = data.queueId) => {
    const log = context.logger.child({ queueId: data.queueId, mailstore: data.mailstore });
    const job: DeliveryJobData = {
      ...data,
      recipients: [...data.recipients],
      failures: [...data.failures],
      suspects: [...(data.suspects ?? [])],
    };
    const trace = new RunTrace(job, context.now);
    try {
      return await deliverJob(context, job, body, checkpoint, { log, trace, jobId });
    } finally {
      if (trace.events.length > 0) context.recordTrace(trace.events, job.messageId, job.receivedAt);
    }
  };
}

async function deliverJob(
  context: DeliveryContext,
  job: DeliveryJobData,
  body: Buffer,
  checkpoint: (data: DeliveryJobData) => Promise<void>,
  { log, trace, jobId }: { log: Logger; trace: RunTrace; jobId: string },
): Promise<DeliveryOutcome> {
  const guard = context.guardSettings(job.mailstore);
  await settleSuspects(context, job, log);
  // Moved recipients must not be moved again if this attempt then fails: store the job now.
  if ((await rerouteRecipients(context, job, jobId, log, trace)) > 0) await checkpoint(job);
  let retryAt: number | undefined;
  if (job.recipients.length > 0) {
    const client = context.clients.get(job.mailstore);
    if (!client) throw new Error(`mailstore ${job.mailstore} is not configured on this node`);
    job.attempts++;
    const started = performance.now();
    const result = await client.deliver(job.sender, job.recipients, body);
    const elapsedMs = Math.round(performance.now() - started);
    const { mailboxFull } = context.config.mailstores[job.mailstore] ?? {};
    const facts = { elapsedMs, guard, now: context.now(), trace, mailboxFull };
    const { delivered, transient, outcomes } = recordAttempt(job, result, log, facts);
    countAttempt(context.metrics, job, result, elapsedMs, transient.length, outcomes);
    // Independent of each other, and none of them throws: sent at once. An attempt that delivered
    // every recipient has nothing to decide from them, so the job's end does not wait for their
    // replies: its own writes (the trace, the end of the job) then go to Redis in the same write
    // as these, and are made durable by the same fsync. The retained copy is made first (the
    // connection keeps the order), before the end of the job can free the body; only a script
    // Redis forgot (SCRIPT FLUSH under a live connection) is sent again after it, and then finds
    // the body gone: the copy is counted as not kept and the store's replay gap says so.
    const recorded = Promise.all([
      context.retain?.(job, jobId, delivered, body),
      watchForBurst(context, job.mailstore, outcomes, log),
      watchForTrip(context, job.mailstore, result, log),
    ]).catch((error: unknown) =>
      log.warn({ event: EVENTS.jobError, err: error }, 'bookkeeping after an attempt failed'),
    );
    if (transient.length > 0 || outcomes.refused > 0 || result.kind === 'unreachable') await recorded;
    retryAt = await planRetries(context, job, transient, { log, trace });
  }
  const bounced = await sendBounces(context, job, body, { log, trace });
  return nextStep(job, { retryAt, wakeAt: suspectWakeAt(job, guard.windowMs) }, bounced, context.now());
}

/**
 * Keeps the deferred recipients on the job and picks the next attempt, or expires them. Time the
 * mailstore spent held since the message arrived does not count toward its lifetime.
 */
async function planRetries(
  context: DeliveryContext,
  job: DeliveryJobData,
  transient: RecipientReply[],
  { log, trace }: { log: Logger; trace: RunTrace },
): Promise<number | undefined> {
  job.recipients = transient.map((entry) => entry.recipient);
  if (transient.length === 0) return undefined;
  const store = context.config.mailstores[job.mailstore]!;
  const policy = { schedule: store.retry, lifetimeMs: store.lifetime, jitter: JITTER };
  const now = context.now();
  // Without the held intervals (Redis trouble), never expire: retrying costs less than a wrong bounce.
  const pausedMs = await context.pausedIntervals(job.mailstore, now).then(
    (intervals) => pausedDuring(mergeIntervals([...intervals, ...(job.heldIntervals ?? [])]), job.receivedAt, now),
    () => Number.POSITIVE_INFINITY,
  );
  const decision = decideRetry(policy, job.receivedAt, job.attempts, now, context.random, pausedMs);
  if (decision.kind === 'retry') {
    log.info(
      { event: EVENTS.transientFailure, recipients: job.recipients, retryAt: new Date(decision.at).toISOString() },
      'will retry',
    );
    trace.deferredUntil(decision.at);
    return decision.at;
  }
  const days = (decision.ageMs / 86_400_000).toFixed(1);
  const held = pausedMs > 0 ? ` (${(pausedMs / 86_400_000).toFixed(1)} of them held, not counted)` : '';
  const expired: RecipientFailure[] = transient.map(({ recipient, reply }) => ({
    recipient,
    reply: `message expired after ${days} days in queue${held}; last reply: ${reply}`,
    status: EXPIRED_STATUS,
    action: 'failed',
  }));
  log.warn(
    { event: EVENTS.expiration, recipients: job.recipients, ageMs: decision.ageMs, pausedMs },
    'message expired',
  );
  trace.add('expired', {
    recipients: job.recipients,
    detail: `message expired after ${days} days in queue${held}`,
  });
  job.failures.push(...expired);
  context.metrics?.recipients(job.mailstore, 'expired', expired.length);
  job.recipients = [];
  return undefined;
}

/**
 * The job's next step: run again for deferred recipients (at their retry time) and for suspects
 * (when their guard window ends), keep it for the operator, retry a bounce, or done.
 */
function nextStep(
  job: DeliveryJobData,
  times: { retryAt: number | undefined; wakeAt: number | undefined },
  bounced: boolean,
  now: number,
): DeliveryOutcome {
  const runAgainAt = [job.recipients.length > 0 ? (times.retryAt ?? now) : undefined, times.wakeAt].filter(
    (time): time is number => time !== undefined,
  );
  if (runAgainAt.length > 0)
    return { kind: 'retry', delayMs: Math.max(1000, Math.min(...runAgainAt) - now), data: job };
  if (job.failures.length === 0) return { kind: 'done' };
  if (!bounced) {
    return {
      kind: 'kept',
      reason: 'permanent failure kept for the operator: no bounce smarthost configured',
      data: job,
    };
  }
  return { kind: 'retry', delayMs: BOUNCE_RETRY_MS, data: job };
}

/** Metrics of one attempt: its duration, and what became of each recipient. */
function countAttempt(
  metrics: DeliveryMetrics | undefined,
  job: DeliveryJobData,
  result: AttemptResult,
  elapsedMs: number,
  deferred: number,
  outcomes: OutcomeCounts,
): void {
  if (!metrics) return;
  metrics.attempt(job.mailstore, elapsedMs / 1000, result.kind === 'unreachable' ? 'unreachable' : 'answered');
  if (result.kind === 'unreachable') {
    metrics.recipients(job.mailstore, 'unreachable', deferred);
    return;
  }
  metrics.recipients(job.mailstore, 'delivered', outcomes.total - outcomes.refused - deferred);
  metrics.recipients(job.mailstore, 'deferred', deferred);
  metrics.recipients(job.mailstore, 'refused', outcomes.refused);
}

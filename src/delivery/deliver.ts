// One delivery attempt for a (message, mailstore) job, and what should happen to the job next.
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import type { DeliveryJobData, RecipientFailure } from '../queue/job-data.js';
import type { DeliverFunction, DeliveryOutcome } from '../queue/consume.js';
import { decideRetry } from '../policy/retry.js';
import { pausedDuring, type PausedInterval } from '../policy/lifetime.js';
import { classifyReply } from './reply-rules.js';
import type { AttemptResult, MailstoreClient } from './mailstore-client.js';
import type { RecipientReply } from './transport.js';
import { sendBounces } from './bounces.js';
import { EXPIRED_STATUS } from './dsn.js';
import type { BounceSender } from './bounce.js';

export interface DeliveryContext {
  config: Config;
  logger: Logger;
  clients: ReadonlyMap<string, MailstoreClient>;
  bounceSender: BounceSender | undefined;
  now: () => number;
  random: () => number;
  /** When the mailstore was held: that time does not count toward a message's lifetime. */
  pausedIntervals: (mailstore: string, now: number) => Promise<PausedInterval[]>;
}

/** How long to wait before trying again to send a bounce the smarthost did not take. */
export const BOUNCE_RETRY_MS = 5 * 60_000;
const JITTER = 0.2;

export function createDeliverer(context: DeliveryContext): DeliverFunction {
  return async (data, body) => {
    const log = context.logger.child({ queueId: data.queueId, mailstore: data.mailstore });
    const job: DeliveryJobData = { ...data, recipients: [...data.recipients], failures: [...data.failures] };
    let retryAt: number | undefined;
    if (job.recipients.length > 0) {
      const client = context.clients.get(job.mailstore);
      if (!client) throw new Error(`mailstore ${job.mailstore} is not configured on this node`);
      job.attempts++;
      const started = performance.now();
      const result = await client.deliver(job.sender, job.recipients, body);
      const elapsedMs = Math.round(performance.now() - started);
      const transient = recordAttempt(job, result, log, elapsedMs);
      retryAt = await planRetries(context, job, transient, log);
    }
    const bounced = await sendBounces(context, job, body, log);
    return nextStep(job, retryAt, bounced, context.now());
  };
}

/** Applies the replies of one attempt to the job; returns the recipients to try again. */
function recordAttempt(job: DeliveryJobData, result: AttemptResult, log: Logger, elapsedMs: number): RecipientReply[] {
  if (result.kind === 'unreachable') {
    const reply = result.errors.map((entry) => `${entry.remote}: ${entry.error}`).join('; ');
    log.warn(
      { event: EVENTS.attempt, attempt: job.attempts, recipients: job.recipients, reply, elapsedMs },
      'mailstore unreachable',
    );
    return job.recipients.map((recipient) => ({ recipient, reply }));
  }
  log.info(
    {
      event: EVENTS.attempt,
      attempt: job.attempts,
      recipients: job.recipients,
      remote: result.remote,
      replies: result.replies,
      elapsedMs,
    },
    'attempt answered',
  );
  const transient: RecipientReply[] = [];
  for (const { recipient, reply } of result.replies) {
    const { action, category, status } = classifyReply(reply);
    const record = { attempt: job.attempts, recipient, reply, remote: result.remote, category, elapsedMs };
    switch (action) {
      case 'delivered':
        log.info({ event: EVENTS.delivery, ...record }, 'delivered');
        break;
      case 'transient':
        log.info({ event: EVENTS.transientFailure, ...record }, 'deferred');
        transient.push({ recipient, reply });
        break;
      case 'permanent':
        log.info({ event: EVENTS.permanentFailure, ...record }, 'refused permanently');
        job.failures.push({ recipient, reply, status, remote: result.remote, action: 'failed' });
        break;
    }
  }
  return transient;
}

/**
 * Keeps the deferred recipients on the job and picks the next attempt, or expires them. Time the
 * mailstore spent held since the message arrived does not count toward its lifetime.
 */
async function planRetries(
  context: DeliveryContext,
  job: DeliveryJobData,
  transient: RecipientReply[],
  log: Logger,
): Promise<number | undefined> {
  job.recipients = transient.map((entry) => entry.recipient);
  if (transient.length === 0) return undefined;
  const store = context.config.mailstores[job.mailstore]!;
  const policy = { schedule: store.retry, lifetimeMs: store.lifetime, jitter: JITTER };
  const now = context.now();
  const pausedMs = pausedDuring(await context.pausedIntervals(job.mailstore, now), job.receivedAt, now);
  const decision = decideRetry(policy, job.receivedAt, job.attempts, now, context.random, pausedMs);
  if (decision.kind === 'retry') {
    log.info(
      { event: EVENTS.transientFailure, recipients: job.recipients, retryAt: new Date(decision.at).toISOString() },
      'will retry',
    );
    return decision.at;
  }
  const days = (decision.ageMs / 86_400_000).toFixed(1);
  const held =
    pausedMs > 0 ? ` (${(pausedMs / 86_400_000).toFixed(1)} of them with the mailstore held, not counted)` : '';
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
  job.failures.push(...expired);
  job.recipients = [];
  return undefined;
}

function nextStep(job: DeliveryJobData, retryAt: number | undefined, bounced: boolean, now: number): DeliveryOutcome {
  if (job.recipients.length > 0) return { kind: 'retry', delayMs: Math.max(0, (retryAt ?? now) - now), data: job };
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

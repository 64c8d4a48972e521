// Applies the replies of one delivery attempt to its job: delivered, deferred, failed or suspect.
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import type { DeliveryJobData } from '../queue/job-data.js';
import type { GuardSettings, OutcomeCounts } from '../policy/guard.js';
import { classifyReply } from './reply-rules.js';
import type { AttemptResult } from './mailstore-client.js';
import type { RecipientReply } from './transport.js';
import { isSuspect } from './suspects.js';
import type { RunTrace } from './run-trace.js';
import { AUTH_HINT } from './trip.js';

export interface AttemptFacts {
  elapsedMs: number;
  guard: GuardSettings;
  now: number;
  trace: RunTrace;
  /** The store's choice for a permanent mailbox-full reply (config mailstores.*.mailboxFull). */
  mailboxFull?: 'bounce' | 'defer';
}

/**
 * Returns the recipients delivered, those to try again, and the outcomes the 5xx guard counts. A
 * "user unknown" waits as a suspect instead of failing at once while the guard is on.
 */
export function recordAttempt(
  job: DeliveryJobData,
  result: AttemptResult,
  log: Logger,
  { elapsedMs, guard, now, trace, mailboxFull = 'bounce' }: AttemptFacts,
): { delivered: string[]; transient: RecipientReply[]; outcomes: OutcomeCounts } {
  if (result.kind === 'unreachable') {
    const reply = result.errors.map((entry) => `${entry.remote}: ${entry.error}`).join('; ');
    log.warn(
      { event: EVENTS.attempt, attempt: job.attempts, recipients: job.recipients, reply, elapsedMs },
      'mailstore unreachable',
    );
    const transient = job.recipients.map((recipient) => ({ recipient, reply }));
    trace.addByReply('deferred', transient, { attempt: job.attempts, detail: 'no endpoint answered' });
    return {
      delivered: [],
      transient,
      outcomes: { total: 0, refused: 0 },
    };
  }
  const { remote, replies } = result;
  log.info(
    { event: EVENTS.attempt, attempt: job.attempts, recipients: job.recipients, remote, replies, elapsedMs },
    'attempt answered',
  );
  const transient: RecipientReply[] = [];
  const traced = {
    delivered: [] as RecipientReply[],
    refused: [] as RecipientReply[],
    suspect: [] as RecipientReply[],
  };
  let refused = 0;
  for (const { recipient, reply } of replies) {
    const classification = classifyReply(reply);
    const { category, status } = classification;
    // The operator keeps mail for a full mailbox (mailboxFull: defer): retried, never bounced for it.
    const action =
      classification.action === 'permanent' && category === 'mailbox-full' && mailboxFull === 'defer'
        ? 'transient'
        : classification.action;
    const record = { attempt: job.attempts, recipient, reply, remote, category, elapsedMs };
    if (action === 'permanent') refused++;
    switch (action) {
      case 'delivered':
        log.info({ event: EVENTS.delivery, ...record }, 'delivered');
        traced.delivered.push({ recipient, reply });
        break;
      case 'transient':
        if (category === 'auth-required')
          log.error({ event: EVENTS.transientFailure, ...record }, `deferred${AUTH_HINT}`);
        else log.info({ event: EVENTS.transientFailure, ...record }, 'deferred');
        transient.push({ recipient, reply });
        break;
      case 'permanent': {
        const failure = { recipient, reply, status, remote, action: 'failed' as const };
        const suspect = isSuspect(classification, guard);
        log.info(
          { event: EVENTS.permanentFailure, ...record, suspect },
          suspect ? 'refused: held back by the 5xx guard' : 'refused permanently',
        );
        if (suspect) (job.suspects ??= []).push({ ...failure, recordedAt: now });
        else job.failures.push(failure);
        (suspect ? traced.suspect : traced.refused).push({ recipient, reply });
        break;
      }
    }
  }
  const attempt = { attempt: job.attempts, remote };
  trace.addByReply('delivered', traced.delivered, attempt);
  trace.addByReply('deferred', transient, attempt);
  trace.addByReply('refused', traced.refused, attempt);
  trace.addByReply('refused', traced.suspect, { ...attempt, detail: 'kept by the 5xx guard for its window' });
  const delivered = traced.delivered.map((entry) => entry.recipient);
  return { delivered, transient, outcomes: { total: replies.length, refused } };
}

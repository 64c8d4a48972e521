// Routing at attempt time: recipients whose mailstore changed since reception move to their new store.
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import type { DeliveryJobData } from '../queue/job-data.js';
import type { Route } from '../routing/router.js';
import type { RunTrace } from './run-trace.js';

export interface RerouteContext {
  /** The recipient's route now (the Redis routing table first, then the config). */
  resolve: (recipient: string) => Promise<Route>;
  /** Queues these recipients of the message (job `jobId`) for another mailstore; returns the new job's id. */
  moveRecipients: (job: DeliveryJobData, jobId: string, mailstore: string, recipients: string[]) => Promise<string>;
}

/**
 * Before each attempt: a recipient now routed to another mailstore (user moved, store failed over)
 * leaves this job for a job in that store's queue. A recipient no longer routable at all stays:
 * a routing change never bounces mail that was accepted.
 */
export async function rerouteRecipients(
  context: RerouteContext,
  job: DeliveryJobData,
  jobId: string,
  log: Logger,
  trace: RunTrace,
): Promise<number> {
  const moves = new Map<string, string[]>();
  for (const recipient of job.recipients) {
    const route = await context.resolve(recipient);
    if (route.kind !== 'mailstore' || route.mailstore === job.mailstore) continue;
    moves.set(route.mailstore, [...(moves.get(route.mailstore) ?? []), recipient]);
  }
  for (const [mailstore, recipients] of moves) {
    const movedTo = await context.moveRecipients(job, jobId, mailstore, recipients);
    job.recipients = job.recipients.filter((recipient) => !recipients.includes(recipient));
    log.info(
      { event: EVENTS.rerouted, to: mailstore, recipients, jobId: movedTo },
      'recipients moved to their new mailstore',
    );
    trace.add('rerouted', { mailstore, recipients, detail: `route changed: from ${job.mailstore}, job ${movedTo}` });
  }
  return moves.size;
}

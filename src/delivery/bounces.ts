// Reports a job's permanent failures to the sender with a DSN, or says why it cannot.
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import type { DeliveryJobData } from '../queue/job-data.js';
import { buildDsn } from './dsn.js';
import type { DeliveryContext } from './deliver.js';
import type { RunTrace } from './run-trace.js';

/**
 * Clears `job.failures` once they are dealt with: a DSN sent, or nobody to send it to (the null
 * sender never gets one). Returns false when the failures must be kept because no smarthost is
 * configured; when the smarthost refuses, the failures stay on the job for the next try.
 */
export async function sendBounces(
  context: DeliveryContext,
  job: DeliveryJobData,
  body: Buffer,
  { log, trace }: { log: Logger; trace: RunTrace },
): Promise<boolean> {
  if (job.failures.length === 0) return true;
  const recipients = job.failures.map((failure) => failure.recipient);
  if (job.sender === '') {
    log.warn(
      { event: EVENTS.bounceDiscarded, recipients, failures: job.failures },
      'failed, no bounce to the null sender',
    );
    trace.add('bounced', { recipients, detail: 'failed; no DSN to the null sender' });
    job.failures = [];
    return true;
  }
  if (!context.bounceSender) {
    log.warn({ event: EVENTS.bounceHeld, recipients }, 'failed; kept for the operator (no smarthost)');
    trace.add('bounced', { recipients, detail: 'failed; kept for the operator (no bounce smarthost)' });
    return false;
  }
  const dsn = buildDsn({
    reportingHost: context.config.listener.hostname,
    from: context.config.bounces.sender!,
    to: job.sender,
    queueId: job.queueId,
    arrivalDate: new Date(job.receivedAt),
    date: new Date(context.now()),
    failures: job.failures,
    original: body,
  });
  try {
    await context.bounceSender.send(job.sender, dsn);
  } catch (error) {
    log.warn({ event: EVENTS.bounceSendFailed, recipients, err: error }, 'bounce not sent, will retry');
    return true;
  }
  log.info({ event: EVENTS.bounce, recipients, sender: job.sender, failures: job.failures }, 'bounce sent');
  trace.add('bounced', { recipients, detail: `DSN sent to <${job.sender}>` });
  job.failures = [];
  return true;
}

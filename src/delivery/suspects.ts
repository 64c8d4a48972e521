// The 5xx guard on the delivery side: "user unknown" replies wait before they bounce, and a burst guards the store.
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import type { DeliveryJobData } from '../queue/job-data.js';
import {
  shouldGuard,
  suspectFate,
  type GuardEpisode,
  type GuardSettings,
  type OutcomeCounts,
} from '../policy/guard.js';
import type { Classification } from './reply-rules.js';
import type { PausedInterval } from '../policy/lifetime.js';

export interface GuardContext {
  now: () => number;
  guardSettings: (mailstore: string) => GuardSettings;
  guardEpisodes: (mailstore: string) => Promise<GuardEpisode[]>;
  /** Adds an attempt's outcomes to the store's window; the counts within it when the attempt met a refusal. */
  recordOutcomes: (
    mailstore: string,
    outcomes: OutcomeCounts,
    now: number,
    windowMs: number,
  ) => Promise<OutcomeCounts | undefined>;
  guard: (mailstore: string, reason: string) => Promise<void>;
  /** When the store was stopped (held, tripped, guarded): refusals near then are not trusted. */
  pausedIntervals: (mailstore: string, now: number) => Promise<PausedInterval[]>;
}

/**
 * Whether a permanent refusal is held back as a suspect instead of bouncing at once: every 5xx
 * while the guard is on. A sick store shows itself by refusing; a lone refusal bounces a window later.
 */
export function isSuspect(classification: Classification, settings: GuardSettings): boolean {
  return settings.enabled && classification.action === 'permanent';
}

/**
 * Before an attempt: each suspect whose guard verdict is "retry" becomes a recipient again, each
 * whose verdict is "confirm", or whose window passed without a guard, becomes a failure to bounce.
 */
export async function settleSuspects(context: GuardContext, job: DeliveryJobData, log: Logger): Promise<void> {
  const suspects = job.suspects ?? [];
  if (suspects.length === 0) return;
  const { windowMs } = context.guardSettings(job.mailstore);
  const now = context.now();
  const [episodes, stops] = await Promise.all([
    context.guardEpisodes(job.mailstore),
    context.pausedIntervals(job.mailstore, now),
  ]);
  job.suspects = [];
  for (const suspect of suspects) {
    const fate = suspectFate(suspect.recordedAt, now, windowMs, episodes, stops);
    if (fate === 'wait') job.suspects.push(suspect);
    if (fate === 'retry') job.recipients.push(suspect.recipient);
    if (fate === 'bounce')
      job.failures.push({
        recipient: suspect.recipient,
        reply: suspect.reply,
        status: suspect.status,
        remote: suspect.remote,
        action: 'failed',
      });
    if (fate !== 'wait')
      log.info({ event: EVENTS.suspectSettled, recipient: suspect.recipient, fate }, `suspect: ${fate}`);
  }
}

/** After an attempt: adds its outcomes to the store's window, and guards the store on a burst. */
export async function watchForBurst(
  context: GuardContext,
  mailstore: string,
  outcomes: OutcomeCounts,
  log: Logger,
): Promise<void> {
  const settings = context.guardSettings(mailstore);
  if (!settings.enabled || outcomes.total === 0) return;
  try {
    const counts = await context.recordOutcomes(mailstore, outcomes, context.now(), settings.windowMs);
    // Only an attempt that itself met "user unknown" can guard (only then are counts returned).
    if (outcomes.refused === 0 || counts === undefined || !shouldGuard(counts, settings)) return;
    const minutes = Math.round(settings.windowMs / 60_000);
    await context.guard(
      mailstore,
      `${counts.refused} of ${counts.total} recipients refused with 5xx within ${minutes} min`,
    );
  } catch (error) {
    // The suspects still wait a window before bouncing; the next attempt counts again.
    log.warn({ event: EVENTS.jobError, err: error }, 'cannot update the 5xx guard');
  }
}

/** When the job must run again to settle its suspects (the earliest end of their windows). */
export function suspectWakeAt(job: DeliveryJobData, windowMs: number): number | undefined {
  const suspects = job.suspects ?? [];
  if (suspects.length === 0) return undefined;
  return Math.min(...suspects.map((suspect) => suspect.recordedAt + windowMs));
}

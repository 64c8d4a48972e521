// The automatic trip on the delivery side: consecutive failed attempts stop a store's deliveries at once.
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import type { AttemptResult } from './mailstore-client.js';
import { classifyReply } from './reply-rules.js';

export interface TripSettings {
  enabled: boolean;
  /** Consecutive failed attempts (any node) that trip the store. */
  failures: number;
  probeIntervalMs: number;
}

export interface TripContext {
  tripSettings: (mailstore: string) => TripSettings;
  /** Counts consecutive failed attempts (0 after a good one), keeping the last failure's text. */
  recordHealth: (mailstore: string, healthy: boolean, error?: string) => Promise<number>;
  trip: (mailstore: string, reason: string, probeIntervalMs: number) => Promise<void>;
}

/**
 * A failed attempt: no endpoint answered (refused, timed out), or the store deferred every
 * recipient (4xx). An attempt that delivered or refused anyone (5xx) shows a working store.
 */
export function attemptFailed(result: AttemptResult): boolean {
  if (result.kind === 'unreachable') return true;
  return result.replies.every(({ reply }) => classifyReply(reply).action === 'transient');
}

/** What went wrong, in one line: why no endpoint answered, or the store's deferral. */
export function failureText(result: AttemptResult): string {
  if (result.kind === 'unreachable') return result.errors.map((entry) => `${entry.remote}: ${entry.error}`).join('; ');
  const reply = result.replies[0]?.reply ?? 'no reply';
  return `${result.remote}: ${reply}${classifyReply(reply).category === 'auth-required' ? AUTH_HINT : ''}`;
}

/** What an operator must do when a store asks for authentication Holdfast was not given. */
export const AUTH_HINT =
  " (the store asks for authentication: set the mailstore's auth, user and pass or passFile, in the config)";

export async function watchForTrip(
  context: TripContext,
  mailstore: string,
  result: AttemptResult,
  log: Logger,
): Promise<void> {
  const settings = context.tripSettings(mailstore);
  const failed = attemptFailed(result);
  try {
    // Counted (and the last error kept for the status) whether or not the trip is on.
    const consecutive = await context.recordHealth(mailstore, !failed, failed ? failureText(result) : undefined);
    if (!settings.enabled || !failed || consecutive < settings.failures) return;
    await context.trip(mailstore, `${consecutive} consecutive failed attempts`, settings.probeIntervalMs);
  } catch (error) {
    // Without the count the mail is still retried on its schedule; the next attempt counts again.
    log.warn({ event: EVENTS.jobError, err: error }, 'cannot update the trip counter');
  }
}

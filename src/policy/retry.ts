// Pure retry and expiry decisions: when to try a deferred delivery again, and when it has expired.

export interface RetryPolicy {
  /** Intervals from the mailstore's retry schedule; the last one repeats. */
  schedule: readonly number[];
  /** How long a message may stay queued, counted from its reception. */
  lifetimeMs: number;
  /** Spread of the jitter: 0.2 means each delay is drawn within ±20 %. */
  jitter: number;
}

/**
 * The delay before attempt number `attemptsMade + 1`. Jitter spreads retries so that mail
 * deferred together (a store that went down) does not come back as one synchronized stampede.
 */
export function retryDelay(policy: RetryPolicy, attemptsMade: number, random: () => number): number {
  const index = Math.min(Math.max(attemptsMade - 1, 0), policy.schedule.length - 1);
  const base = policy.schedule[index]!;
  const factor = 1 - policy.jitter + 2 * policy.jitter * random();
  return Math.max(1000, Math.round(base * factor));
}

export type RetryDecision = { kind: 'retry'; at: number } | { kind: 'expired'; ageMs: number };

/**
 * After a failed attempt: expired when the lifetime has run out, otherwise retry at the next
 * scheduled time, but never later than the end of the lifetime (one last try before expiring).
 * Time the mailstore spent held (`pausedMs` since the message arrived) does not count: the
 * lifetime is extended by it, so an outage never expires mail by itself.
 */
export function decideRetry(
  policy: RetryPolicy,
  receivedAt: number,
  attemptsMade: number,
  now: number,
  random: () => number,
  pausedMs = 0,
): RetryDecision {
  const expiresAt = receivedAt + policy.lifetimeMs + pausedMs;
  if (now >= expiresAt) return { kind: 'expired', ageMs: now - receivedAt };
  return { kind: 'retry', at: Math.min(now + retryDelay(policy, attemptsMade, random), expiresAt) };
}

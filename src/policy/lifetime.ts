// Pure: how much of a message's time in the queue its mailstore spent held, so it does not count.

/** A stretch of time (milliseconds since the epoch) during which a mailstore took no deliveries. */
export interface PausedInterval {
  from: number;
  to: number;
}

/** The part of [since, until] covered by the intervals (assumed not to overlap each other). */
export function pausedDuring(intervals: readonly PausedInterval[], since: number, until: number): number {
  let total = 0;
  for (const { from, to } of intervals) total += Math.max(0, Math.min(to, until) - Math.max(from, since));
  return total;
}

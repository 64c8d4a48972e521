// Pure: how much of a message's time in the queue its mailstore spent held, so it does not count.

/** A stretch of time (milliseconds since the epoch) during which a mailstore took no deliveries. */
export interface PausedInterval {
  from: number;
  to: number;
}

/** The same stretches of time as one sorted list without overlaps (a store hold and a message hold may overlap). */
export function mergeIntervals(intervals: readonly PausedInterval[]): PausedInterval[] {
  const sorted = [...intervals].sort((a, b) => a.from - b.from);
  const merged: PausedInterval[] = [];
  for (const { from, to } of sorted) {
    const last = merged.at(-1);
    if (last && from <= last.to) last.to = Math.max(last.to, to);
    else merged.push({ from, to });
  }
  return merged;
}

/** The part of [since, until] covered by the intervals (assumed not to overlap each other). */
export function pausedDuring(intervals: readonly PausedInterval[], since: number, until: number): number {
  let total = 0;
  for (const { from, to } of intervals) total += Math.max(0, Math.min(to, until) - Math.max(from, since));
  return total;
}

/**
 * The latest arrival time at which a message has, by `now`, used up at least `usedMs` of its
 * lifetime (held time not counting): every message that arrived at or before it has too. A
 * message's used lifetime only grows with an earlier arrival, so a binary search finds it.
 */
export function latestArrivalHavingUsed(intervals: readonly PausedInterval[], now: number, usedMs: number): number {
  const used = (arrival: number) => now - arrival - pausedDuring(intervals, arrival, now);
  const paused = intervals.reduce((total, { from, to }) => total + Math.max(0, to - from), 0);
  let early = now - usedMs - paused - 1; // used(early) >= usedMs
  let late = now - usedMs; // nothing later can have used enough
  if (used(late) >= usedMs) return late;
  while (late - early > 1) {
    const middle = Math.floor((early + late) / 2);
    if (used(middle) >= usedMs) early = middle;
    else late = middle;
  }
  return early;
}

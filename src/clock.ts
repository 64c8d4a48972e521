// Time in Holdfast, read in this one file. Two kinds, never mixed:
//
// - the clock (`Clock`): what decisions read (when a hold began, a window's times, a message's age,
//   a rate's second). It is injected from app.ts (`AppOptions.now`), so a test can move it; every
//   part that decides by time takes it as an argument.
// - wall time (`wallClock`, `Deadline`): how long an I/O step may take, when to try again, and times
//   shared with other processes (BullMQ's delays and job timestamps, the CLI's "ago"). A test's clock
//   must not stall a timeout or a retry, so these never read the injected clock.

/** The injected clock's type: milliseconds since the epoch. */
export type Clock = () => number;

/** The real time: the default of the injected clock, and wall time. */
export const systemClock: Clock = () => Date.now();

/** Wall time, for timeouts, retry pacing and times shared with other processes (see the top of this file). */
export const wallClock: Clock = systemClock;

/** A point in wall time some milliseconds from now, for loops that wait or retry until then. */
export class Deadline {
  private readonly at: number;

  constructor(ms: number) {
    this.at = wallClock() + ms;
  }

  get passed(): boolean {
    return wallClock() >= this.at;
  }

  /** Milliseconds left (0 once passed). */
  get remainingMs(): number {
    return Math.max(0, this.at - wallClock());
  }
}

/** Milliseconds of wall time since `startedAt` (a `wallClock()` reading). */
export function elapsedSince(startedAt: number): number {
  return wallClock() - startedAt;
}

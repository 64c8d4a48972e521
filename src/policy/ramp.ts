// Pure: the paced release of a recovered mailstore, slow start then doubling while it answers well.

export interface RampPlan {
  startRate: number;
  startConcurrency: number;
  stepMs: number;
  /** The pace at which the store counts as fully open: its own rate limit, or the ramp's ceiling. */
  targetRate: number;
  targetConcurrency: number;
}

export interface Pace {
  /** Messages per second. */
  rate: number;
  concurrency: number;
}

export type RampStep = { kind: 'continue'; pace: Pace } | { kind: 'open' };

/**
 * One step of the ramp: nothing left to deliver, or the target reached, opens the store; a step
 * during which the store failed halves the pace (never below the start); otherwise it doubles.
 */
export function nextRampStep(pace: Pace, plan: RampPlan, healthy: boolean, remaining: number): RampStep {
  if (remaining === 0) return { kind: 'open' };
  if (!healthy) {
    return {
      kind: 'continue',
      pace: {
        rate: Math.max(plan.startRate, Math.floor(pace.rate / 2)),
        concurrency: Math.max(plan.startConcurrency, Math.floor(pace.concurrency / 2)),
      },
    };
  }
  if (pace.rate >= plan.targetRate && pace.concurrency >= plan.targetConcurrency) return { kind: 'open' };
  return {
    kind: 'continue',
    pace: {
      rate: Math.min(plan.targetRate, pace.rate * 2),
      concurrency: Math.min(plan.targetConcurrency, pace.concurrency * 2),
    },
  };
}

/** Seconds until `remaining` messages are delivered at `rate` per second. */
export function etaSeconds(remaining: number, rate: number): number {
  return rate > 0 ? Math.ceil(remaining / rate) : Number.POSITIVE_INFINITY;
}

// Pure decisions of the 5xx guard: when a burst of 5xx (above all "user unknown") means the store is sick.
import type { GuardVerdict } from './mailstore-state.js';
import type { PausedInterval } from './lifetime.js';

export interface GuardSettings {
  enabled: boolean;
  /** This many recipients refused with 5xx within the window guard the store... */
  threshold: number;
  /** ...and so does this share of all recipient outcomes, once `threshold` outcomes were seen. */
  ratio: number;
  windowMs: number;
}

export interface OutcomeCounts {
  refused: number;
  total: number;
}

export function shouldGuard(counts: OutcomeCounts, settings: GuardSettings): boolean {
  if (!settings.enabled || counts.refused === 0) return false;
  if (counts.refused >= settings.threshold) return true;
  return counts.total >= settings.threshold && counts.refused / counts.total >= settings.ratio;
}

/** A period during which the store was guarded; `verdict` once the operator ended it. */
export interface GuardEpisode {
  from: number;
  to?: number;
  verdict?: GuardVerdict;
}

/**
 * What happens to a recipient the store called unknown at `recordedAt` (a suspect):
 * - the first guard that was still going on then, or began later, concerns it: it waits while
 *   that guard lasts, then is tried again ("release") or bounced ("confirm-bounces");
 * - if the store was stopped otherwise (held by an operator, tripped) within a window of it, the
 *   refusal came from a store in trouble: it is tried again rather than bounced;
 * - otherwise it waits one window (a burst may still be building), then bounces: it was a lone
 *   unknown user, not a sick store.
 */
export function suspectFate(
  recordedAt: number,
  now: number,
  windowMs: number,
  episodes: readonly GuardEpisode[],
  stops: readonly PausedInterval[] = [],
): 'wait' | 'retry' | 'bounce' {
  const episode = episodes.find(
    (candidate) => (candidate.to === undefined || candidate.to >= recordedAt) && candidate.from <= now,
  );
  if (episode) {
    if (episode.verdict === undefined) return 'wait';
    return episode.verdict === 'confirm' ? 'bounce' : 'retry';
  }
  if (now < recordedAt + windowMs) return 'wait';
  const nearStop = stops.some((stop) => stop.from <= recordedAt + windowMs && stop.to >= recordedAt - windowMs);
  return nearStop ? 'retry' : 'bounce';
}

// Maintenance windows: when a scheduled hold may be planned, starts, yields to an operator, or is over. Pure.
import { holdInPlace, type MailstoreState } from './mailstore-state.js';

/** A hold planned ahead, from `from` to `until` (milliseconds since the epoch). */
export interface MaintenanceWindow {
  from: number;
  until: number;
  reason: string;
  /** The operator who scheduled it: the hold it starts is theirs. */
  by: string;
  scheduledAt: number;
  /** When its hold began; absent while the window waits for its start. */
  startedAt?: number;
}

/** A window scheduled, cancelled, or dropped without its hold (these are not state changes). */
export interface WindowAuditEntry {
  at: number;
  mailstore: string;
  action: 'schedule-window' | 'cancel-window' | 'drop-window';
  by: string;
  reason: string;
  window: MaintenanceWindow;
}

/** A window to remove; `why` is said in the log and the audit trail (none: it ran its course). */
export interface WindowDrop {
  window: MaintenanceWindow;
  why?: string;
}

export interface WindowPlan {
  /** The window whose hold must begin now. */
  start?: MaintenanceWindow;
  drop: WindowDrop[];
}

/** Why the window cannot be scheduled beside the ones already there, or undefined when it can. */
export function windowProblem(
  window: Pick<MaintenanceWindow, 'from' | 'until' | 'reason'>,
  scheduled: readonly MaintenanceWindow[],
  now: number,
): string | undefined {
  if (window.reason.trim() === '') return 'a maintenance window needs a reason';
  if (!Number.isFinite(window.from) || !Number.isFinite(window.until)) return 'a maintenance window needs two times';
  if (window.from >= window.until) return 'a maintenance window must end after it starts';
  if (window.until <= now) return 'the maintenance window would already be over';
  const other = scheduled.find((existing) => overlaps(existing, window));
  if (other === undefined) return undefined;
  return `the window overlaps the one from ${iso(other.from)} to ${iso(other.until)} (${other.reason}, by ${other.by}): cancel it first or choose other times`;
}

/** Whether two windows share any time (one ending when the other starts does not). */
export function overlaps(a: Pick<MaintenanceWindow, 'from' | 'until'>, b: Pick<MaintenanceWindow, 'from' | 'until'>) {
  return a.from < b.until && b.from < a.until;
}

/** The hold a window starts: the scheduler's, ending with the window (the expiry releases with the ramp). */
export function windowHold(window: MaintenanceWindow): { reason: string; by: string; until: number } {
  return { reason: `maintenance window: ${window.reason}`, by: window.by, until: window.until };
}

/**
 * What the windows need now: the one whose start has come begins its hold, unless an operator's
 * hold is in place (that hold wins: the window is dropped, saying so). Windows whose end has
 * passed, and started ones whose hold was released or replaced early, are dropped.
 */
export function planWindows(windows: readonly MaintenanceWindow[], state: MailstoreState, now: number): WindowPlan {
  const drop: WindowDrop[] = [];
  let start: MaintenanceWindow | undefined;
  for (const window of [...windows].sort((a, b) => a.from - b.from)) {
    if (window.until <= now) {
      const why = window.startedAt === undefined ? 'the window passed without starting' : undefined;
      drop.push({ window, why });
    } else if (window.startedAt !== undefined) {
      if (!holdsFor(state, window)) drop.push({ window });
    } else if (window.from <= now && start === undefined) {
      if (holdInPlace(state, now)) {
        drop.push({ window, why: `held by ${state.by} when the window began: an operator's hold is not replaced` });
      } else start = window;
    }
  }
  return start === undefined ? { drop } : { start, drop };
}

/** Whether the store is held by this window's own hold. */
export function holdsFor(state: MailstoreState, window: MaintenanceWindow): boolean {
  const hold = windowHold(window);
  return state.kind === 'held' && state.until === hold.until && state.reason === hold.reason && state.by === hold.by;
}

function iso(time: number): string {
  return new Date(time).toISOString();
}

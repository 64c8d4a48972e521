// The per-mailstore state machine: decides transitions from commands; never touches Redis or BullMQ.
import { nextRampStep, type Pace, type RampPlan, type RampStep } from './ramp.js';
import type { WindowAuditEntry } from './maintenance.js';

export type MailstoreState =
  | { kind: 'open' }
  | { kind: 'held'; reason: string; by: string; since: number; until?: number }
  /** Held by Holdfast itself after a burst of 5xx "user unknown": its mail waits for an operator. */
  | { kind: 'guarded'; reason: string; by: string; since: number }
  /** Delivering at a limited pace after a hold: a ramp, or the operator's explicit pace. */
  | {
      kind: 'releasing';
      reason: string;
      by: string;
      since: number;
      rate: number;
      concurrency: number;
      /** The operator gave the pace: it stays until the queue is empty. */
      explicit: boolean;
      nextStepAt: number;
    }
  /** Held by Holdfast itself after consecutive failures; probed at growing intervals. */
  | { kind: 'tripped'; reason: string; by: string; since: number; nextProbeAt: number; probeIntervalMs: number };

export type StateKind = MailstoreState['kind'];

/** What the operator decided about the recipients a guard kept: try them again, or bounce them. */
export type GuardVerdict = 'retry' | 'confirm';

export type MailstoreCommand =
  /** `scheduled`: a maintenance window's hold, which does not replace a hold in place. */
  | { kind: 'hold'; reason: string; by: string; until?: number; scheduled?: boolean }
  | { kind: 'release'; by: string; reason?: string; pace?: Pace; plan: RampPlan }
  /** Replayed mail is about to be queued for an open store: it ramps up like a release. */
  | { kind: 'replay'; by: string; reason: string; plan: RampPlan }
  | { kind: 'guard'; reason: string }
  | { kind: 'trip'; reason: string; probeIntervalMs: number }
  /** A probe of a tripped store is due: claim it, and push the next one back (doubling, capped). */
  | { kind: 'claim-probe'; maxProbeIntervalMs: number }
  | { kind: 'probe-succeeded'; plan: RampPlan }
  /** The ramp's next step is due: `healthy` says whether the store failed since the last one. */
  | { kind: 'ramp-step'; healthy: boolean; remaining: number; plan: RampPlan }
  | { kind: 'confirm-bounces'; by: string; reason?: string };

export interface StateAuditEntry {
  at: number;
  mailstore: string;
  action: 'hold' | 'release' | 'replay' | 'guard' | 'confirm-bounces' | 'trip' | 'probe' | 'recover' | 'ramp' | 'open';
  by: string;
  reason: string;
  from: StateKind;
  to: StateKind;
  until?: number;
}

/** An operator action on queued messages (not a state change). */
export interface MessageAuditEntry {
  at: number;
  action: `${'hold' | 'release' | 'retry' | 'delete'}-messages`;
  by: string;
  reason: string;
  /** The selection, as the operator gave it. */
  filter: string;
  count: number;
  queueIds: string[];
}

/** An operator change of a store's live settings: its mail moved to another store, its endpoints. */
export interface StoreAuditEntry {
  at: number;
  action: 'move-store' | 'unmove-store' | 'set-endpoints' | 'reset-endpoints';
  mailstore: string;
  by: string;
  reason: string;
  /** move-store: where its mail goes now. */
  to?: string;
  /** set-endpoints: the new endpoints, in order. */
  endpoints?: string[];
}

/** An operator's replay of retained copies to a store (its pacing is a state change of its own). */
export interface ReplayAuditEntry {
  at: number;
  action: 'replay';
  mailstore: string;
  by: string;
  reason: string;
  since: number;
  until: number;
  recipient?: string;
  /** Messages queued again, their bytes, and the distinct recipients. */
  count: number;
  bytes: number;
  users: number;
}

export type AuditEntry = StateAuditEntry | MessageAuditEntry | StoreAuditEntry | WindowAuditEntry | ReplayAuditEntry;

export type Decision =
  { ok: true; state: MailstoreState; audit: StateAuditEntry; verdict?: GuardVerdict } | { ok: false; problem: string };

export const OPEN: MailstoreState = { kind: 'open' };

/** Who Holdfast itself is, in the audit trail, when it acts without an operator. */
export const SYSTEM_ACTOR = 'holdfast';

export function decide(mailstore: string, state: MailstoreState, command: MailstoreCommand, now: number): Decision {
  const audit = (
    action: StateAuditEntry['action'],
    by: string,
    reason: string,
    to: MailstoreState,
  ): StateAuditEntry => ({
    at: now,
    mailstore,
    action,
    by,
    reason,
    from: state.kind,
    to: to.kind,
  });
  switch (command.kind) {
    case 'hold': {
      if (command.reason.trim() === '') return { ok: false, problem: 'a hold needs a reason' };
      if (command.until !== undefined && command.until <= now)
        return { ok: false, problem: 'the hold would already be over' };
      if (command.scheduled && holdInPlace(state, now))
        return {
          ok: false,
          problem: `mailstore ${mailstore} is held by ${state.by}: a scheduled hold does not replace it`,
        };
      const held: MailstoreState = {
        kind: 'held',
        reason: command.reason,
        by: command.by,
        since: now,
        until: command.until,
      };
      const entry = audit('hold', command.by, command.reason, held);
      // A hold over a guard ends the guard: its kept recipients are tried again once released.
      const verdict = state.kind === 'guarded' ? 'retry' : undefined;
      return {
        ok: true,
        state: held,
        audit: command.until === undefined ? entry : { ...entry, until: command.until },
        verdict,
      };
    }
    case 'release': {
      if (!isStopped(state)) return { ok: false, problem: `mailstore ${mailstore} is not held` };
      const reason =
        command.reason ??
        (state.kind === 'guarded' ? 'released: retry the kept recipients' : 'released by an operator');
      const verdict = state.kind === 'guarded' ? 'retry' : undefined;
      const next = releasing(command.by, reason, command.plan, now, command.pace);
      return { ok: true, state: next, audit: audit('release', command.by, reason, next), verdict };
    }
    case 'replay': {
      // Releasing already ramps; a stopped store's replayed mail waits for its release, which ramps.
      if (state.kind !== 'open') return { ok: false, problem: `mailstore ${mailstore} is ${state.kind}, not open` };
      const next = releasing(command.by, command.reason, command.plan, now);
      return { ok: true, state: next, audit: audit('replay', command.by, command.reason, next) };
    }
    case 'ramp-step': {
      if (state.kind !== 'releasing' || state.nextStepAt > now) return { ok: false, problem: 'no ramp step is due' };
      const current = { rate: state.rate, concurrency: state.concurrency };
      const step: RampStep = state.explicit
        ? command.remaining === 0
          ? { kind: 'open' }
          : { kind: 'continue', pace: current }
        : nextRampStep(current, command.plan, command.healthy, command.remaining);
      if (step.kind === 'open')
        return { ok: true, state: OPEN, audit: audit('open', SYSTEM_ACTOR, 'release complete', OPEN) };
      const next: MailstoreState = { ...state, ...step.pace, nextStepAt: now + command.plan.stepMs };
      const backoff = command.healthy ? '' : ' (stepped back after failures)';
      const why = `${step.pace.rate} msgs/s, ${step.pace.concurrency} connections${backoff}`;
      return { ok: true, state: next, audit: audit('ramp', SYSTEM_ACTOR, why, next) };
    }
    case 'guard': {
      // An operator's hold outranks the guard: the store is already stopped, and the operator decides.
      if (!deliveriesAllowed(state)) return { ok: false, problem: `mailstore ${mailstore} is already ${state.kind}` };
      const guarded: MailstoreState = { kind: 'guarded', reason: command.reason, by: SYSTEM_ACTOR, since: now };
      return { ok: true, state: guarded, audit: audit('guard', SYSTEM_ACTOR, command.reason, guarded) };
    }
    case 'trip': {
      if (!deliveriesAllowed(state)) return { ok: false, problem: `mailstore ${mailstore} is already ${state.kind}` };
      const tripped: MailstoreState = {
        kind: 'tripped',
        reason: command.reason,
        by: SYSTEM_ACTOR,
        since: now,
        nextProbeAt: now + command.probeIntervalMs,
        probeIntervalMs: command.probeIntervalMs,
      };
      return { ok: true, state: tripped, audit: audit('trip', SYSTEM_ACTOR, command.reason, tripped) };
    }
    case 'claim-probe': {
      if (state.kind !== 'tripped' || state.nextProbeAt > now) return { ok: false, problem: 'no probe is due' };
      const probeIntervalMs = Math.min(state.probeIntervalMs * 2, command.maxProbeIntervalMs);
      const next: MailstoreState = { ...state, nextProbeAt: now + probeIntervalMs, probeIntervalMs };
      return { ok: true, state: next, audit: audit('probe', SYSTEM_ACTOR, 'probing the tripped store', next) };
    }
    case 'probe-succeeded': {
      if (state.kind !== 'tripped') return { ok: false, problem: `mailstore ${mailstore} is not tripped` };
      const next = releasing(SYSTEM_ACTOR, 'a probe succeeded', command.plan, now);
      return { ok: true, state: next, audit: audit('recover', SYSTEM_ACTOR, 'a probe succeeded', next) };
    }
    case 'confirm-bounces': {
      if (state.kind !== 'guarded')
        return { ok: false, problem: `mailstore ${mailstore} is not guarded: no bounces wait for confirmation` };
      const reason = command.reason ?? 'the operator confirmed the bounces';
      return { ok: true, state: OPEN, audit: audit('confirm-bounces', command.by, reason, OPEN), verdict: 'confirm' };
    }
  }
}

/** Whether workers may start delivery attempts for the mailstore (releasing: at a limited pace). */
export function deliveriesAllowed(state: MailstoreState): boolean {
  return state.kind === 'open' || state.kind === 'releasing';
}

export type StoppedState = Extract<MailstoreState, { kind: 'held' | 'tripped' | 'guarded' }>;

/** Held, tripped or guarded: no deliveries at all. */
export function isStopped(state: MailstoreState): state is StoppedState {
  return !deliveriesAllowed(state);
}

/** A releasing store whose next ramp step is due. */
export function rampStepIsDue(state: MailstoreState, now: number): boolean {
  return state.kind === 'releasing' && state.nextStepAt <= now;
}

function releasing(by: string, reason: string, plan: RampPlan, now: number, pace?: Pace): MailstoreState {
  const start = pace ?? { rate: plan.startRate, concurrency: plan.startConcurrency };
  return {
    kind: 'releasing',
    reason,
    by,
    since: now,
    ...start,
    explicit: pace !== undefined,
    nextStepAt: now + plan.stepMs,
  };
}

/** A hold given an end time lifts itself then (the only way a hold ends without an operator). */
export function holdHasExpired(state: MailstoreState, now: number): boolean {
  return state.kind === 'held' && state.until !== undefined && state.until <= now;
}

/** A hold that has not reached its end time: one a maintenance window yields to. */
export function holdInPlace(state: MailstoreState, now: number): state is Extract<MailstoreState, { kind: 'held' }> {
  return state.kind === 'held' && !holdHasExpired(state, now);
}

/** A tripped store whose next probe is due. */
export function probeIsDue(state: MailstoreState, now: number): boolean {
  return state.kind === 'tripped' && state.nextProbeAt <= now;
}

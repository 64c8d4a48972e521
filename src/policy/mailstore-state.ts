// The per-mailstore state machine: decides transitions from commands; never touches Redis or BullMQ.

export type MailstoreState =
  { kind: 'open' } | { kind: 'held'; reason: string; by: string; since: number; until?: number };

export type StateKind = MailstoreState['kind'];

export type MailstoreCommand =
  { kind: 'hold'; reason: string; by: string; until?: number } | { kind: 'release'; by: string; reason?: string };

export interface AuditEntry {
  at: number;
  mailstore: string;
  action: 'hold' | 'release';
  by: string;
  reason: string;
  from: StateKind;
  to: StateKind;
  until?: number;
}

export type Decision = { ok: true; state: MailstoreState; audit: AuditEntry } | { ok: false; problem: string };

export const OPEN: MailstoreState = { kind: 'open' };

/** Who Holdfast itself is, in the audit trail, when it acts without an operator. */
export const SYSTEM_ACTOR = 'holdfast';

export function decide(mailstore: string, state: MailstoreState, command: MailstoreCommand, now: number): Decision {
  switch (command.kind) {
    case 'hold': {
      if (command.reason.trim() === '') return { ok: false, problem: 'a hold needs a reason' };
      if (command.until !== undefined && command.until <= now)
        return { ok: false, problem: 'the hold would already be over' };
      const held: MailstoreState = {
        kind: 'held',
        reason: command.reason,
        by: command.by,
        since: now,
        until: command.until,
      };
      const audit = entry(mailstore, 'hold', command.by, command.reason, state, held, now);
      return { ok: true, state: held, audit: command.until === undefined ? audit : { ...audit, until: command.until } };
    }
    case 'release': {
      if (state.kind === 'open') return { ok: false, problem: `mailstore ${mailstore} is not held` };
      const reason = command.reason ?? 'released by an operator';
      return { ok: true, state: OPEN, audit: entry(mailstore, 'release', command.by, reason, state, OPEN, now) };
    }
  }
}

/** Whether workers may start delivery attempts for the mailstore. */
export function deliveriesAllowed(state: MailstoreState): boolean {
  return state.kind === 'open';
}

/** A hold given an end time lifts itself then (the only way a hold ends without an operator). */
export function holdHasExpired(state: MailstoreState, now: number): boolean {
  return state.kind === 'held' && state.until !== undefined && state.until <= now;
}

function entry(
  mailstore: string,
  action: AuditEntry['action'],
  by: string,
  reason: string,
  from: MailstoreState,
  to: MailstoreState,
  at: number,
): AuditEntry {
  return { at, mailstore, action, by, reason, from: from.kind, to: to.kind };
}

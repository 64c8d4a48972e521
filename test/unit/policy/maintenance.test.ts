// Unit tests for maintenance windows: scheduling rules and what each tick must do, with an injected time.
import { describe, expect, it } from 'vitest';
import { planWindows, windowHold, windowProblem, type MaintenanceWindow } from '../../../src/policy/maintenance.js';
import { OPEN, decide, type MailstoreState } from '../../../src/policy/mailstore-state.js';

const NOW = 1_800_000_000_000;
const MINUTE = 60_000;

function window(from: number, until: number, extra: Partial<MaintenanceWindow> = {}): MaintenanceWindow {
  return { from, until, reason: 'kernel upgrade', by: 'alice', scheduledAt: NOW - 10 * MINUTE, ...extra };
}

const operatorHold: MailstoreState = { kind: 'held', reason: 'disk errors', by: 'bob', since: NOW - MINUTE };

describe('scheduling a maintenance window', () => {
  it('accepts a window that ends after it starts, in the future, beside windows it does not overlap', () => {
    const scheduled = [window(NOW + 10 * MINUTE, NOW + 20 * MINUTE)];
    expect(windowProblem(window(NOW + 20 * MINUTE, NOW + 30 * MINUTE), scheduled, NOW)).toBeUndefined();
    expect(windowProblem(window(NOW, NOW + 10 * MINUTE), scheduled, NOW)).toBeUndefined();
  });

  it('refuses a window that ends before it starts, one already over, and one without a reason', () => {
    expect(windowProblem(window(NOW + 2 * MINUTE, NOW + MINUTE), [], NOW)).toBe(
      'a maintenance window must end after it starts',
    );
    expect(windowProblem(window(NOW + MINUTE, NOW + MINUTE), [], NOW)).toBe(
      'a maintenance window must end after it starts',
    );
    expect(windowProblem(window(NOW - 2 * MINUTE, NOW), [], NOW)).toBe('the maintenance window would already be over');
    expect(windowProblem(window(NOW + MINUTE, NOW + 2 * MINUTE, { reason: ' ' }), [], NOW)).toBe(
      'a maintenance window needs a reason',
    );
    expect(windowProblem(window(Number.NaN, NOW + MINUTE), [], NOW)).toBe('a maintenance window needs two times');
  });

  it('refuses a window that overlaps one already scheduled or running, naming it', () => {
    const running = window(NOW - MINUTE, NOW + 10 * MINUTE, { startedAt: NOW - MINUTE, reason: 'disk swap' });
    const problem = windowProblem(window(NOW + 5 * MINUTE, NOW + 30 * MINUTE), [running], NOW);
    expect(problem).toBe(
      `the window overlaps the one from ${new Date(NOW - MINUTE).toISOString()} to ${new Date(NOW + 10 * MINUTE).toISOString()} (disk swap, by alice): cancel it first or choose other times`,
    );
    expect(windowProblem(window(NOW + MINUTE, NOW + 2 * MINUTE), [running], NOW)).toMatch(/^the window overlaps/);
  });
});

describe('what a tick does with the windows', () => {
  it('does nothing before a window starts', () => {
    expect(planWindows([window(NOW + 1, NOW + MINUTE)], OPEN, NOW)).toEqual({ drop: [] });
  });

  it('starts a window once its start time has come, holding for its scheduler until its end', () => {
    const due = window(NOW, NOW + MINUTE);
    expect(planWindows([due], OPEN, NOW)).toEqual({ start: due, drop: [] });
    expect(windowHold(due)).toEqual({ reason: 'maintenance window: kernel upgrade', by: 'alice', until: NOW + MINUTE });
  });

  it('starts a window over a tripped, guarded or releasing store', () => {
    const due = window(NOW - 1, NOW + MINUTE);
    const states: MailstoreState[] = [
      { kind: 'tripped', reason: 'r', by: 'holdfast', since: NOW - MINUTE, nextProbeAt: NOW, probeIntervalMs: 1000 },
      { kind: 'guarded', reason: 'burst', by: 'holdfast', since: NOW - MINUTE },
      {
        kind: 'releasing',
        reason: 'r',
        by: 'ops',
        since: NOW - MINUTE,
        rate: 5,
        concurrency: 2,
        explicit: false,
        nextStepAt: NOW + MINUTE,
      },
    ];
    for (const state of states) expect(planWindows([due], state, NOW)).toEqual({ start: due, drop: [] });
  });

  it("drops a window that begins while an operator's hold is in place, saying who holds the store", () => {
    const due = window(NOW, NOW + MINUTE);
    expect(planWindows([due], operatorHold, NOW)).toEqual({
      drop: [{ window: due, why: "held by bob when the window began: an operator's hold is not replaced" }],
    });
  });

  it('starts a window over a hold whose own end time has come (back-to-back windows)', () => {
    const first = window(NOW - MINUTE, NOW, { startedAt: NOW - MINUTE });
    const second = window(NOW, NOW + MINUTE);
    const ending: MailstoreState = { kind: 'held', ...windowHold(first), since: NOW - MINUTE };
    expect(planWindows([second, first], ending, NOW)).toEqual({ start: second, drop: [{ window: first }] });
  });

  it('keeps a running window while its hold is in place, and drops it quietly at its end', () => {
    const running = window(NOW - MINUTE, NOW + MINUTE, { startedAt: NOW - MINUTE });
    const held: MailstoreState = { kind: 'held', ...windowHold(running), since: NOW - MINUTE };
    expect(planWindows([running], held, NOW)).toEqual({ drop: [] });
    expect(planWindows([running], held, NOW + MINUTE)).toEqual({ drop: [{ window: running }] });
  });

  it('drops a running window whose hold an operator released or replaced early', () => {
    const running = window(NOW - MINUTE, NOW + MINUTE, { startedAt: NOW - MINUTE });
    expect(planWindows([running], OPEN, NOW)).toEqual({ drop: [{ window: running }] });
    expect(planWindows([running], operatorHold, NOW)).toEqual({ drop: [{ window: running }] });
  });

  it('drops a window that passed without starting, saying so', () => {
    const missed = window(NOW - 2 * MINUTE, NOW - MINUTE);
    expect(planWindows([missed], OPEN, NOW)).toEqual({
      drop: [{ window: missed, why: 'the window passed without starting' }],
    });
  });
});

describe("a maintenance window's hold in the state machine", () => {
  const scheduled = { kind: 'hold' as const, ...windowHold(window(NOW, NOW + MINUTE)), scheduled: true };

  it("does not replace an operator's hold", () => {
    expect(decide('store1', operatorHold, scheduled, NOW)).toEqual({
      ok: false,
      problem: 'mailstore store1 is held by bob: a scheduled hold does not replace it',
    });
  });

  it('replaces a trip, and a hold whose end time has come', () => {
    const tripped: MailstoreState = {
      kind: 'tripped',
      reason: 'r',
      by: 'holdfast',
      since: NOW - MINUTE,
      nextProbeAt: NOW,
      probeIntervalMs: 1000,
    };
    expect(decide('store1', tripped, scheduled, NOW)).toMatchObject({
      ok: true,
      state: { kind: 'held', by: 'alice', reason: 'maintenance window: kernel upgrade', until: NOW + MINUTE },
      audit: { action: 'hold', from: 'tripped', to: 'held', by: 'alice', until: NOW + MINUTE },
    });
    const expired: MailstoreState = { ...operatorHold, until: NOW };
    expect(decide('store1', expired, scheduled, NOW)).toMatchObject({ ok: true, state: { kind: 'held' } });
  });
});

// Unit tests for the 5xx guard's pure decisions.
import { describe, expect, it } from 'vitest';
import { shouldGuard, suspectFate, type GuardSettings } from '../../../src/policy/guard.js';
import { OPEN, decide, type MailstoreState } from '../../../src/policy/mailstore-state.js';

const PLAN = { startRate: 5, startConcurrency: 2, stepMs: 30_000, targetRate: 200, targetConcurrency: 10 };

const settings: GuardSettings = { enabled: true, threshold: 5, ratio: 0.5, windowMs: 600_000 };
const NOW = 1_800_000_000_000;

describe('shouldGuard', () => {
  it('guards once the unknown users in the window reach the threshold', () => {
    expect(shouldGuard({ refused: 4, total: 100 }, settings)).toBe(false);
    expect(shouldGuard({ refused: 5, total: 100 }, settings)).toBe(true);
  });

  it('guards on the share of unknown users once enough outcomes were seen', () => {
    expect(shouldGuard({ refused: 3, total: 4 }, settings)).toBe(false); // too few outcomes to judge
    expect(shouldGuard({ refused: 3, total: 6 }, settings)).toBe(true);
    expect(shouldGuard({ refused: 3, total: 7 }, settings)).toBe(false);
  });

  it('never guards when switched off or without any unknown user', () => {
    expect(shouldGuard({ refused: 50, total: 50 }, { ...settings, enabled: false })).toBe(false);
    expect(shouldGuard({ refused: 0, total: 50 }, { ...settings, ratio: 0.01, threshold: 1 })).toBe(false);
  });
});

describe('suspectFate', () => {
  const window = settings.windowMs;

  it('waits a window for a lone unknown user, then bounces it', () => {
    expect(suspectFate(NOW, NOW + window - 1, window, [])).toBe('wait');
    expect(suspectFate(NOW, NOW + window, window, [])).toBe('bounce');
  });

  it('waits while the guard that concerns it lasts, whatever the window', () => {
    expect(suspectFate(NOW, NOW + 10 * window, window, [{ from: NOW + 1000 }])).toBe('wait');
    expect(suspectFate(NOW, NOW + 10 * window, window, [{ from: NOW - 5000 }])).toBe('wait');
  });

  it('follows the verdict of the guard that concerns it, not of an earlier one', () => {
    const earlier = { from: NOW - 3 * window, to: NOW - 2 * window, verdict: 'retry' as const };
    expect(suspectFate(NOW, NOW + 1, window, [earlier, { from: NOW, to: NOW + 1, verdict: 'confirm' }])).toBe('bounce');
    expect(suspectFate(NOW, NOW + 1, window, [earlier, { from: NOW, to: NOW + 1, verdict: 'retry' }])).toBe('retry');
    expect(suspectFate(NOW, NOW + window, window, [earlier])).toBe('bounce');
  });
});

describe('guard transitions', () => {
  const guarded: MailstoreState = { kind: 'guarded', reason: 'burst', by: 'holdfast', since: NOW - 1000 };

  it('guards an open store in the name of Holdfast itself', () => {
    expect(decide('s', OPEN, { kind: 'guard', reason: 'burst' }, NOW)).toMatchObject({
      ok: true,
      state: { kind: 'guarded', by: 'holdfast', since: NOW },
      audit: { action: 'guard', from: 'open', to: 'guarded' },
    });
  });

  it('leaves an operator hold alone rather than guarding over it', () => {
    const held: MailstoreState = { kind: 'held', reason: 'x', by: 'ops', since: NOW };
    expect(decide('s', held, { kind: 'guard', reason: 'burst' }, NOW)).toMatchObject({ ok: false });
  });

  it('ends a guard with a verdict: release retries, confirm-bounces bounces', () => {
    expect(decide('s', guarded, { kind: 'release', by: 'ops', plan: PLAN }, NOW)).toMatchObject({
      ok: true,
      state: { kind: 'releasing' },
      verdict: 'retry',
    });
    expect(decide('s', guarded, { kind: 'confirm-bounces', by: 'ops' }, NOW)).toMatchObject({
      ok: true,
      verdict: 'confirm',
    });
    expect(decide('s', OPEN, { kind: 'confirm-bounces', by: 'ops' }, NOW)).toMatchObject({ ok: false });
  });
});

describe('suspectFate near an operator hold or a trip', () => {
  const window = settings.windowMs;

  it('tries a refusal again rather than bounce it when the store was stopped within a window of it', () => {
    const hold = { from: NOW + 1000, to: NOW + 5 * window };
    expect(suspectFate(NOW, NOW + 6 * window, window, [], [hold])).toBe('retry');
    const earlierHold = { from: NOW - 3 * window, to: NOW - window / 2 };
    expect(suspectFate(NOW, NOW + window, window, [], [earlierHold])).toBe('retry');
  });

  it('still bounces a lone refusal far from any stop', () => {
    const longAgo = { from: NOW - 10 * window, to: NOW - 5 * window };
    expect(suspectFate(NOW, NOW + window, window, [], [longAgo])).toBe('bounce');
  });
});

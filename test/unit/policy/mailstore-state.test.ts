// Unit tests for the mailstore state machine: pure decisions with an injected time.
import { describe, expect, it } from 'vitest';
import {
  OPEN,
  decide,
  deliveriesAllowed,
  holdHasExpired,
  type MailstoreState,
} from '../../../src/policy/mailstore-state.js';

const PLAN = { startRate: 5, startConcurrency: 2, stepMs: 30_000, targetRate: 200, targetConcurrency: 10 };

const NOW = 1_800_000_000_000;
const held: MailstoreState = { kind: 'held', reason: 'disk errors', by: 'ops', since: NOW - 1000 };

describe('the mailstore state machine', () => {
  it('holds an open store with who, why and since, and audits the change', () => {
    const decision = decide('store2', OPEN, { kind: 'hold', reason: 'disk errors', by: 'ops' }, NOW);
    expect(decision).toEqual({
      ok: true,
      state: { kind: 'held', reason: 'disk errors', by: 'ops', since: NOW, until: undefined },
      audit: {
        at: NOW,
        mailstore: 'store2',
        action: 'hold',
        by: 'ops',
        reason: 'disk errors',
        from: 'open',
        to: 'held',
      },
    });
  });

  it('records the end time of a hold that has one', () => {
    const decision = decide('store2', OPEN, { kind: 'hold', reason: 'window', by: 'ops', until: NOW + 60_000 }, NOW);
    expect(decision).toMatchObject({ ok: true, state: { until: NOW + 60_000 }, audit: { until: NOW + 60_000 } });
  });

  it('refuses a hold without a reason or with an end time already past', () => {
    expect(decide('s', OPEN, { kind: 'hold', reason: '  ', by: 'ops' }, NOW)).toEqual({
      ok: false,
      problem: 'a hold needs a reason',
    });
    expect(decide('s', OPEN, { kind: 'hold', reason: 'x', by: 'ops', until: NOW }, NOW)).toMatchObject({ ok: false });
  });

  it('releases a held store into the ramp at its start pace, and refuses to release an open one', () => {
    expect(decide('s', held, { kind: 'release', by: 'ops', plan: PLAN }, NOW)).toMatchObject({
      ok: true,
      state: { kind: 'releasing', rate: 5, concurrency: 2, explicit: false, nextStepAt: NOW + 30_000 },
      audit: { action: 'release', from: 'held', to: 'releasing', reason: 'released by an operator' },
    });
    expect(decide('s', OPEN, { kind: 'release', by: 'ops', plan: PLAN }, NOW)).toEqual({
      ok: false,
      problem: 'mailstore s is not held',
    });
  });

  it('allows deliveries only to an open store', () => {
    expect(deliveriesAllowed(OPEN)).toBe(true);
    expect(deliveriesAllowed(held)).toBe(false);
  });

  it('says a hold has expired only once its end time has come, and never for a hold without one', () => {
    const timed: MailstoreState = { ...held, until: NOW };
    expect(holdHasExpired(timed, NOW - 1)).toBe(false);
    expect(holdHasExpired(timed, NOW)).toBe(true);
    expect(holdHasExpired(held, NOW + 10 ** 12)).toBe(false);
    expect(holdHasExpired(OPEN, NOW)).toBe(false);
  });

  it('paces an open store receiving replayed mail like a release, and leaves any other state as it is', () => {
    const command = { kind: 'replay' as const, by: 'ops', reason: 'replay of 12 messages', plan: PLAN };
    expect(decide('store1', OPEN, command, NOW)).toMatchObject({
      ok: true,
      state: { kind: 'releasing', rate: 5, concurrency: 2, explicit: false, nextStepAt: NOW + 30_000, by: 'ops' },
      audit: { action: 'replay', from: 'open', to: 'releasing', reason: 'replay of 12 messages' },
    });
    expect(decide('store1', held, command, NOW)).toEqual({ ok: false, problem: 'mailstore store1 is held, not open' });
  });
});

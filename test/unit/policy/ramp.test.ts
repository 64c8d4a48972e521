// Unit tests for the paced release: slow start, doubling while healthy, stepping back on failures.
import { describe, expect, it } from 'vitest';
import { etaSeconds, nextRampStep } from '../../../src/policy/ramp.js';
import { decide, type MailstoreState } from '../../../src/policy/mailstore-state.js';

const PLAN = { startRate: 5, startConcurrency: 2, stepMs: 30_000, targetRate: 40, targetConcurrency: 10 };
const NOW = 1_800_000_000_000;

describe('nextRampStep', () => {
  it('doubles rate and concurrency while the store answers well, capped at the target', () => {
    expect(nextRampStep({ rate: 5, concurrency: 2 }, PLAN, true, 1000)).toEqual({
      kind: 'continue',
      pace: { rate: 10, concurrency: 4 },
    });
    expect(nextRampStep({ rate: 20, concurrency: 8 }, PLAN, true, 1000)).toEqual({
      kind: 'continue',
      pace: { rate: 40, concurrency: 10 },
    });
  });

  it('opens the store once the target is reached, or when nothing is left to deliver', () => {
    expect(nextRampStep({ rate: 40, concurrency: 10 }, PLAN, true, 1000)).toEqual({ kind: 'open' });
    expect(nextRampStep({ rate: 5, concurrency: 2 }, PLAN, true, 0)).toEqual({ kind: 'open' });
  });

  it('halves the pace after failures, never below the start', () => {
    expect(nextRampStep({ rate: 40, concurrency: 10 }, PLAN, false, 1000)).toEqual({
      kind: 'continue',
      pace: { rate: 20, concurrency: 5 },
    });
    expect(nextRampStep({ rate: 6, concurrency: 3 }, PLAN, false, 1000)).toEqual({
      kind: 'continue',
      pace: { rate: 5, concurrency: 2 },
    });
  });

  it('gives an ETA from what remains and the current rate', () => {
    expect(etaSeconds(1000, 20)).toBe(50);
    expect(etaSeconds(1, 0)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('ramp steps of the state machine', () => {
  const releasing = (explicit: boolean): MailstoreState => ({
    kind: 'releasing',
    reason: 'r',
    by: 'ops',
    since: NOW - 60_000,
    rate: 10,
    concurrency: 4,
    explicit,
    nextStepAt: NOW,
  });

  it('steps a ramp when due and schedules the next step', () => {
    expect(
      decide('s', releasing(false), { kind: 'ramp-step', healthy: true, remaining: 100, plan: PLAN }, NOW),
    ).toMatchObject({
      ok: true,
      state: { kind: 'releasing', rate: 20, concurrency: 8, nextStepAt: NOW + 30_000 },
      audit: { action: 'ramp', reason: '20 msgs/s, 8 connections' },
    });
    expect(
      decide('s', releasing(false), { kind: 'ramp-step', healthy: true, remaining: 100, plan: PLAN }, NOW - 1),
    ).toMatchObject({ ok: false });
  });

  it('keeps an explicit pace until the queue is empty, then opens', () => {
    expect(
      decide('s', releasing(true), { kind: 'ramp-step', healthy: true, remaining: 100, plan: PLAN }, NOW),
    ).toMatchObject({
      state: { rate: 10, concurrency: 4 },
    });
    expect(
      decide('s', releasing(true), { kind: 'ramp-step', healthy: true, remaining: 0, plan: PLAN }, NOW),
    ).toMatchObject({
      state: { kind: 'open' },
      audit: { action: 'open' },
    });
  });

  it('lets an operator abort a release by holding again', () => {
    expect(decide('s', releasing(false), { kind: 'hold', reason: 'still sick', by: 'ops' }, NOW)).toMatchObject({
      ok: true,
      state: { kind: 'held' },
    });
  });

  it('releases with the explicit pace an operator gives', () => {
    const held: MailstoreState = { kind: 'held', reason: 'x', by: 'ops', since: NOW };
    const pace = { rate: 20, concurrency: 3 };
    expect(decide('s', held, { kind: 'release', by: 'ops', pace, plan: PLAN }, NOW)).toMatchObject({
      state: { kind: 'releasing', rate: 20, concurrency: 3, explicit: true },
    });
  });
});

// Unit tests for the automatic trip: its transitions, probe timing, and what counts as a failed attempt.
import { describe, expect, it } from 'vitest';
import { OPEN, decide, probeIsDue, type MailstoreState } from '../../../src/policy/mailstore-state.js';
import { attemptFailed } from '../../../src/delivery/trip.js';

const PLAN = { startRate: 5, startConcurrency: 2, stepMs: 30_000, targetRate: 200, targetConcurrency: 10 };

const NOW = 1_800_000_000_000;

describe('trip transitions', () => {
  const tripped: MailstoreState = {
    kind: 'tripped',
    reason: '5 consecutive failed attempts',
    by: 'holdfast',
    since: NOW - 60_000,
    nextProbeAt: NOW,
    probeIntervalMs: 30_000,
  };

  it('trips an open store with its first probe one interval later', () => {
    expect(decide('s', OPEN, { kind: 'trip', reason: 'r', probeIntervalMs: 30_000 }, NOW)).toMatchObject({
      ok: true,
      state: { kind: 'tripped', since: NOW, nextProbeAt: NOW + 30_000, probeIntervalMs: 30_000 },
      audit: { action: 'trip', by: 'holdfast', from: 'open', to: 'tripped' },
    });
  });

  it('does not trip a store an operator holds', () => {
    const held: MailstoreState = { kind: 'held', reason: 'x', by: 'ops', since: NOW };
    expect(decide('s', held, { kind: 'trip', reason: 'r', probeIntervalMs: 1 }, NOW)).toMatchObject({ ok: false });
  });

  it('doubles the probe interval at each claimed probe, up to its cap', () => {
    expect(probeIsDue(tripped, NOW)).toBe(true);
    expect(probeIsDue(tripped, NOW - 1)).toBe(false);
    const claimed = decide('s', tripped, { kind: 'claim-probe', maxProbeIntervalMs: 45_000 }, NOW);
    expect(claimed).toMatchObject({ ok: true, state: { nextProbeAt: NOW + 45_000, probeIntervalMs: 45_000 } });
    expect(decide('s', tripped, { kind: 'claim-probe', maxProbeIntervalMs: 600_000 }, NOW - 1)).toMatchObject({
      ok: false,
    });
  });

  it('releases a tripped store into the ramp when a probe succeeds', () => {
    expect(decide('s', tripped, { kind: 'probe-succeeded', plan: PLAN }, NOW)).toMatchObject({
      ok: true,
      state: { kind: 'releasing', rate: 5, concurrency: 2 },
      audit: { action: 'recover' },
    });
    expect(decide('s', OPEN, { kind: 'probe-succeeded', plan: PLAN }, NOW)).toMatchObject({ ok: false });
  });
});

describe('attemptFailed', () => {
  const answered = (...replies: string[]) => ({
    kind: 'answered' as const,
    remote: 'h:24',
    replies: replies.map((reply, index) => ({ recipient: `r${index}@x`, reply })),
  });

  it('counts an unreachable store and a store deferring everyone as failed', () => {
    expect(attemptFailed({ kind: 'unreachable', errors: [{ remote: 'h:24', error: 'ECONNREFUSED' }] })).toBe(true);
    expect(attemptFailed(answered('451 4.3.0 try later', '421 4.4.2 bye'))).toBe(true);
  });

  it('counts an attempt that delivered or refused anyone as a working store', () => {
    expect(attemptFailed(answered('451 4.3.0 try later', '250 2.0.0 ok'))).toBe(false);
    expect(attemptFailed(answered('550 5.1.1 unknown'))).toBe(false);
  });
});

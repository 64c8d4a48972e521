// Unit tests for what a state change records beside it: held intervals and guard episodes.
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';
import { MailstoreAdmin } from '../../../src/admin/mailstores.js';
import { createLogger } from '../../../src/observability/logger.js';
import type { MailstoreControls, StateEffects } from '../../../src/repositories/mailstore-controls.js';
import type { MailstoreState } from '../../../src/policy/mailstore-state.js';

const NOW = 1_800_000_000_000;

/** Controls held in memory: the state, and the effects each change stored. */
function fakeControls(initial: MailstoreState) {
  let state = initial;
  const effects: StateEffects[] = [];
  const controls = {
    read: () => Promise.resolve(state),
    readVersioned: () => Promise.resolve({ state, version: JSON.stringify(state) }),
    apply: (_store: string, _version: string, next: MailstoreState, _audit: unknown, stored: StateEffects = {}) => {
      state = next;
      effects.push(stored);
      return Promise.resolve(true);
    },
  } as unknown as MailstoreControls;
  return { controls, effects };
}

function admin(controls: MailstoreControls): MailstoreAdmin {
  const result = validateConfig(
    { domains: { 'example.com': { mailstore: 's' } }, mailstores: { s: { endpoints: ['127.0.0.1:24'] } } },
    { baseDirectory: '/' },
  );
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return new MailstoreAdmin(result.config, controls, createLogger('silent', { write: () => undefined }), () => NOW);
}

describe('state change effects', () => {
  it('records the tripped time as held when an operator holds a tripped store', async () => {
    const tripped: MailstoreState = {
      kind: 'tripped',
      reason: 'r',
      by: 'holdfast',
      since: NOW - 3_600_000,
      nextProbeAt: NOW,
      probeIntervalMs: 1,
    };
    const { controls, effects } = fakeControls(tripped);
    await admin(controls).hold('s', { reason: 'repair', by: 'ops' });
    expect(effects[0]).toMatchObject({ endedPause: { from: NOW - 3_600_000, to: NOW } });
  });

  it('ends a guard with a retry verdict when an operator holds the guarded store', async () => {
    const guarded: MailstoreState = { kind: 'guarded', reason: 'burst', by: 'holdfast', since: NOW - 60_000 };
    const { controls, effects } = fakeControls(guarded);
    await admin(controls).hold('s', { reason: 'checking the database', by: 'ops' });
    expect(effects[0]).toMatchObject({ guardEnded: { from: NOW - 60_000, to: NOW, verdict: 'retry' } });
  });
});

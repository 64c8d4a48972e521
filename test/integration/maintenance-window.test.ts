// Scenario: an operator schedules a maintenance window; two nodes hold the store through it, then release it.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';
import { createKeys } from '../../src/queue/keys.js';
import type { MailstoreState } from '../../src/policy/mailstore-state.js';
import type { MaintenanceWindow } from '../../src/policy/maintenance.js';

type AuditRecord = Record<string, unknown> & { mailstore?: string; action: string; window?: MaintenanceWindow };
type StatusRecord = { mailstore: string; state: MailstoreState; windows: MaintenanceWindow[] };

const iso = (time: number) => new Date(time).toISOString();

describe('a maintenance window', () => {
  const fixture = withRelay({ cli: true, app: { policyIntervalMs: 250 } });
  const { store1 } = fixture.stores;
  const { cli } = fixture;
  /** A second node on the same Redis, running only the policy check: windows must start once. */
  let peer: TestRelay;

  beforeAll(async () => {
    peer = await startRelay(fixture.relay.config, { intake: false, delivery: false, policyIntervalMs: 250 });
  });

  // Registered after the fixture's, so it runs first: the peer stops before the relay.
  afterAll(async () => {
    await peer?.stop();
  });

  async function state(mailstore: string): Promise<MailstoreState> {
    const { relay, redis } = fixture;
    const raw = await redis.client.get(createKeys(relay.config.redis.prefix).mailstoreState(mailstore));
    return raw === null ? { kind: 'open' } : (JSON.parse(raw) as MailstoreState);
  }

  async function status(mailstore: string): Promise<StatusRecord | undefined> {
    const statuses = JSON.parse((await cli('status', '--json')).stdout) as StatusRecord[];
    return statuses.find((entry) => entry.mailstore === mailstore);
  }

  /** The store's audit entries, newest first. */
  async function audit(mailstore: string): Promise<AuditRecord[]> {
    const entries = JSON.parse((await cli('audit', '--json', '--limit', '100')).stdout) as AuditRecord[];
    return entries.filter((entry) => entry.mailstore === mailstore);
  }

  const windowEvents = () => [...fixture.relay.events('MaintenanceWindow'), ...peer.events('MaintenanceWindow')];

  it('delivers mail before it, keeps mail accepted during it, and delivers everything after it', async () => {
    const { relay } = fixture;
    // Margin for two CLI runs (each a cold node start) and a delivery on a loaded CI machine.
    const from = Date.now() + 15_000;
    const until = from + 10_000;
    const scheduled = await cli(
      'hold',
      'store1',
      '--reason',
      'kernel upgrade',
      '--from',
      iso(from),
      '--until',
      iso(until),
      '--by',
      'alice-ops',
    );
    expect(scheduled).toMatchObject({
      code: 0,
      stdout: `store1: hold scheduled from ${iso(from)} to ${iso(until)}: kernel upgrade\n`,
    });
    expect((await cli('status')).stdout).toMatch(
      new RegExp(
        `MAINTENANCE WINDOWS\\n.*\\nstore1 +${iso(from)} +${iso(until)} +waiting +kernel upgrade \\(by alice-ops\\)`,
      ),
    );

    expect(await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'before')).toMatch(/^250 /);
    await waitFor(() => store1.delivered('alice@example.com').length === 1, 10_000, 'delivery before the window');
    expect(Date.now()).toBeLessThan(from);

    await waitFor(async () => (await state('store1')).kind === 'held', 25_000, 'the window to start');
    expect(Date.now()).toBeGreaterThanOrEqual(from);
    // Sent before any CLI run, so that it arrives well inside the window.
    expect(await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'during')).toMatch(/^250 /);
    expect(await state('store1')).toMatchObject({
      kind: 'held',
      reason: 'maintenance window: kernel upgrade',
      by: 'alice-ops',
      until,
    });
    const [running] = (await status('store1'))?.windows ?? [];
    expect(running).toMatchObject({ from, until, reason: 'kernel upgrade', by: 'alice-ops' });
    expect(running?.startedAt).toBeGreaterThanOrEqual(from);

    expect(store1.delivered('alice@example.com')).toHaveLength(1); // a delivery would have happened by now

    await waitFor(() => store1.delivered('alice@example.com').length === 2, 30_000, 'delivery after the window');
    expect(Date.now()).toBeGreaterThanOrEqual(until);
    expect(['releasing', 'open']).toContain((await state('store1')).kind);
    expect((await status('store1'))?.windows).toEqual([]);

    const trail = await audit('store1');
    expect(trail).toMatchObject([
      { action: 'release', by: 'holdfast', reason: 'hold reached its end time', from: 'held', to: 'releasing' },
      { action: 'hold', by: 'alice-ops', reason: 'maintenance window: kernel upgrade', until, to: 'held' },
      { action: 'schedule-window', by: 'alice-ops', reason: 'kernel upgrade', window: { from, until } },
    ]);
    expect((await cli('audit', '--limit', '3')).stdout).toContain(
      `store1  window ${iso(from)} to ${iso(until)} scheduled  by alice-ops: kernel upgrade`,
    );
  }, 120_000);

  it('never holds the store when the window is cancelled before it starts', async () => {
    expect((await cli('hold', 'store2', '--reason', 'disk swap', '--from', '15s', '--until', '16s')).code).toBe(0);
    const cancelled = await cli('cancel-window', 'store2', '--by', 'alice-ops', '--reason', 'swap postponed');
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toMatch(/^store2: cancelled the window from /);
    expect((await status('store2'))?.windows).toEqual([]);

    const [cancel] = await audit('store2');
    const { until } = cancel!.window!;
    await sleep(until - Date.now() + 1000);
    expect(await state('store2')).toEqual({ kind: 'open' });
    expect((await audit('store2')).map((entry) => entry.action)).toEqual(['cancel-window', 'schedule-window']);
    expect(cancel).toMatchObject({ by: 'alice-ops', reason: 'swap postponed', window: { reason: 'disk swap' } });

    const again = await cli('cancel-window', 'store2');
    expect(again).toMatchObject({ code: 65, stderr: 'holdfast: no maintenance window waits for store2\n' });
  });

  it("leaves an operator's hold in place at the window's start, and says the window was dropped", async () => {
    expect((await cli('hold', 'store2', '--reason', 'fsck running', '--by', 'bob-ops')).code).toBe(0);
    const scheduled = await cli('hold', 'store2', '--reason', 'upgrade', '--from', '2s', '--until', '3s');
    expect(scheduled.code).toBe(0);

    await waitFor(async () => (await status('store2'))?.windows.length === 0, 10_000, 'the window to be dropped');
    const [dropped] = await audit('store2');
    expect(dropped).toMatchObject({
      action: 'drop-window',
      by: 'holdfast',
      reason: "held by bob-ops when the window began: an operator's hold is not replaced",
      window: { reason: 'upgrade' },
    });
    expect(windowEvents().filter((record) => record.action === 'drop-window')).toHaveLength(1);

    const { until } = dropped!.window!;
    await sleep(until - Date.now() + 1000);
    expect(await state('store2')).toMatchObject({ kind: 'held', by: 'bob-ops', reason: 'fsck running' });
    expect((await cli('release', 'store2', '--by', 'bob-ops')).code).toBe(0);
  });

  it('starts once when several nodes start the same window at the same moment, and ends early with a release', async () => {
    const { relay } = fixture;
    const admins = [relay.app.mailstoreAdmin!, peer.app.mailstoreAdmin!];
    const now = Date.now();
    // Due in an hour, so the nodes' own checks leave it alone: only these calls race.
    const window = await admins[0]!.scheduleHold('store2', {
      from: now + 3_600_000,
      until: now + 7_200_000,
      reason: 'race',
      by: 'alice-ops',
    });
    const attempts = await Promise.allSettled(
      [...admins, ...admins, ...admins].map((admin) => admin.startWindow('store2', window)),
    );
    expect(attempts.filter((attempt) => attempt.status === 'fulfilled')).toHaveLength(1);
    const actions = (await audit('store2')).map((entry) => entry.action);
    expect(actions.slice(0, 2)).toEqual(['hold', 'schedule-window']);
    expect((await status('store2'))?.windows[0]?.startedAt).toBeGreaterThanOrEqual(now);

    // Released early by an operator: the window is over, and its time free for another one.
    expect((await cli('release', 'store2', '--by', 'alice-ops')).code).toBe(0);
    // A node that read the window before it started cannot start it again.
    await expect(admins[1]!.startWindow('store2', window)).rejects.toThrow('changed state meanwhile');
    await waitFor(async () => (await status('store2'))?.windows.length === 0, 10_000, 'the window to be dropped');
  });

  it('refuses a window that overlaps another, ends before it starts or has no end, with exit code 65', async () => {
    expect((await cli('hold', 'store2', '--reason', 'first', '--from', '1h', '--until', '2h')).code).toBe(0);
    const overlapping = await cli('hold', 'store2', '--reason', 'second', '--from', '90m', '--until', '3h');
    expect(overlapping.code).toBe(65);
    expect(overlapping.stderr).toMatch(
      /^holdfast: the window overlaps the one from .* \(first, by .*\): cancel it first/,
    );
    const backwards = await cli('hold', 'store2', '--reason', 'second', '--from', '3h', '--until', '2h');
    expect(backwards).toMatchObject({ code: 65, stderr: 'holdfast: a maintenance window must end after it starts\n' });
    const endless = await cli('hold', 'store2', '--reason', 'second', '--from', '3h');
    expect(endless).toMatchObject({
      code: 65,
      stderr: 'holdfast: --from needs --until: a maintenance window has an end\n',
    });
    expect((await cli('hold', 'store2', '--reason', 'x', '--from', 'soon', '--until', '3h')).code).toBe(65);
    expect((await cli('cancel-window', 'store2')).code).toBe(0);
    expect((await status('store2'))?.windows).toEqual([]);
  });
});

// Operator operations on mailstores (hold, release, status, audit), shared by the CLI and the HTTP API.
import { SHAPE_MINUTES } from './api.js';
import { refused, isRefusal } from '../errors.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import type { MailstoreControls, QueueCounts, StateEffects } from '../repositories/mailstore-controls.js';
import {
  SYSTEM_ACTOR,
  decide,
  isStopped,
  type AuditEntry,
  type MailstoreCommand,
  type MailstoreState,
} from '../policy/mailstore-state.js';
import {
  windowHold,
  windowProblem,
  type MaintenanceWindow,
  type WindowAuditEntry,
  type WindowDrop,
} from '../policy/maintenance.js';
import { etaSeconds, type RampPlan } from '../policy/ramp.js';
import { latestArrivalHavingUsed } from '../policy/lifetime.js';
import type { StoreOverrides } from '../policy/store-move.js';
import type { StoreOverridesRepository } from '../repositories/store-overrides.js';
import type { RetainedMail, RetentionStatus } from '../repositories/retained-copies.js';
import { systemClock, type Clock } from '../clock.js';

/** Attempts at scheduling a window while other windows of the same store change. */
const SCHEDULE_ATTEMPTS = 5;

export interface MailstoreStatus {
  mailstore: string;
  state: MailstoreState;
  counts: QueueCounts;
  /** While releasing: what is left and when it should be done at the current rate. */
  progress?: { remaining: number; rate: number; etaSeconds: number };
  backlog: BacklogStatus;
  /** Maintenance windows, earliest first: waiting, or running (`startedAt`). */
  windows: MaintenanceWindow[];
  /** What operators changed live: its mail moved to another store, other endpoints. */
  overrides?: StoreOverrides;
  /** The store's last failed attempt, when and what (kept after it recovers). */
  lastError?: { at: number; error: string };
  /** The retained copies of delivered mail, for replay (see docs/operations.md). */
  retention?: RetentionStatus & { enabled: boolean };
}

export interface BacklogStatus {
  /** Messages still to deliver to the store, and their size. */
  messages: number;
  bytes: number;
  /** Age of the oldest of them (wall clock, held time included). */
  oldestAgeSeconds?: number;
  /** How many will expire within `expiringWithinSeconds` unless delivered (held time not counting). */
  expiringSoon: number;
  expiringWithinSeconds: number;
  /**
   * The backlog by age, like Postfix's qshape: counts younger than 5 minutes, 5-10, 10-20 ...
   * 640-1280, and older than 1280 minutes (SHAPE_MINUTES are the boundaries).
   */
  shape: number[];
}

/** The age boundaries of the backlog's shape, in minutes (qshape's). */

/** "Close to expiry": the last day of a message's lifetime, or its last fifth if that is shorter. */
export function expiryWarning(lifetimeMs: number): number {
  return Math.min(24 * 3600 * 1000, lifetimeMs / 5);
}

export class MailstoreAdmin {
  constructor(
    private readonly config: Config,
    private readonly controls: MailstoreControls,
    private readonly logger: Logger,
    private readonly now: Clock = systemClock,
    /** Live settings operators changed (a move, endpoints): shown in the status when given. */
    private readonly overrides?: StoreOverridesRepository,
    /** The retained copies: shown in the status when given. */
    private readonly retained?: RetainedMail,
  ) {}

  async hold(mailstore: string, options: { reason: string; by: string; until?: number }): Promise<MailstoreState> {
    return this.command(mailstore, { kind: 'hold', ...options });
  }

  /**
   * Releases a stopped store into a paced release: the ramp, or the operator's explicit pace
   * (either of rate and concurrency; the other is then the store's own limit).
   */
  async release(
    mailstore: string,
    options: { by: string; reason?: string; rate?: number; concurrency?: number },
  ): Promise<MailstoreState> {
    const plan = this.rampPlan(mailstore);
    const { by, reason, rate, concurrency } = options;
    const explicit = rate !== undefined || concurrency !== undefined;
    const pace = explicit
      ? { rate: rate ?? plan.targetRate, concurrency: concurrency ?? plan.targetConcurrency }
      : undefined;
    return this.command(mailstore, { kind: 'release', by, reason, pace, plan });
  }

  /**
   * Before replayed mail is queued for the store: an open store ramps up like a release (audited
   * `replay`); a releasing one ramps already, and a stopped one's mail waits for its release.
   * Returns the state the replayed mail meets.
   */
  async paceReplay(mailstore: string, options: { by: string; reason: string }): Promise<MailstoreState> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const state = await this.controls.read(mailstore);
      if (state.kind !== 'open') return state;
      const command = { kind: 'replay' as const, ...options, plan: this.rampPlan(mailstore) };
      const paced = await this.command(mailstore, command).catch((error: unknown) => {
        if (isRefusal(error)) return undefined; // changed meanwhile: look again
        throw error;
      });
      if (paced) return paced;
    }
    return this.controls.read(mailstore);
  }

  /** The release ramp of a mailstore, from its config. */
  rampPlan(mailstore: string): RampPlan {
    const store = this.config.mailstores[mailstore];
    if (!store) throw refused(`unknown mailstore "${mailstore}"`);
    const { startRate, startConcurrency, step, ceiling } = store.ramp;
    const targetRate = store.rate > 0 ? store.rate : ceiling;
    return {
      startRate: Math.min(startRate, targetRate),
      startConcurrency: Math.min(startConcurrency, store.concurrency),
      stepMs: step,
      targetRate,
      targetConcurrency: store.concurrency,
    };
  }

  /** Ends a guard by bouncing the recipients it kept (one command, audited). */
  async confirmBounces(mailstore: string, options: { by: string; reason?: string }): Promise<MailstoreState> {
    return this.command(mailstore, { kind: 'confirm-bounces', ...options });
  }

  /**
   * Schedules a hold of the store from `from` to `until` (started by the policy check of any node);
   * refused when it overlaps another window. Audited and logged.
   */
  async scheduleHold(
    mailstore: string,
    options: { from: number; until: number; reason: string; by: string },
  ): Promise<MaintenanceWindow> {
    this.requireMailstore(mailstore);
    const { from, until, reason, by } = options;
    for (let attempt = 0; attempt < SCHEDULE_ATTEMPTS; attempt++) {
      const now = this.now();
      const { windows, version } = await this.controls.windows.readVersioned(mailstore);
      const problem = windowProblem(options, windows, now);
      if (problem !== undefined) throw refused(problem);
      const window: MaintenanceWindow = { from, until, reason, by, scheduledAt: now };
      const audit = this.windowAudit(mailstore, 'schedule-window', window, by, reason);
      if (await this.controls.windows.addIfUnchanged(mailstore, version, window, audit)) {
        this.logger.warn({ event: EVENTS.maintenanceWindow, ...audit }, 'maintenance window scheduled');
        return window;
      }
    }
    throw refused(`the maintenance windows of ${mailstore} changed meanwhile; try again`);
  }

  /** Cancels the store's windows that have not started (a running one ends with `release`). */
  async cancelWindows(mailstore: string, options: { by: string; reason?: string }): Promise<MaintenanceWindow[]> {
    this.requireMailstore(mailstore);
    const waiting = (await this.controls.windows.read(mailstore)).filter((window) => window.startedAt === undefined);
    const reason = options.reason ?? 'cancelled by an operator';
    const removals = waiting.map((window) => ({
      window,
      audit: this.windowAudit(mailstore, 'cancel-window', window, options.by, reason),
    }));
    const removed = await this.controls.windows.remove(mailstore, removals);
    if (removed.length === 0) throw refused(`no maintenance window waits for ${mailstore}`);
    for (const { window, audit } of removals) {
      if (removed.includes(window))
        this.logger.warn({ event: EVENTS.maintenanceWindow, ...audit }, 'maintenance window cancelled');
    }
    return removed;
  }

  /** Begins a window's hold; refused (an error) when an operator's hold is in place or another node began it. */
  async startWindow(mailstore: string, window: MaintenanceWindow): Promise<MailstoreState> {
    return this.change(mailstore, { kind: 'hold', ...windowHold(window), scheduled: true }, { windowStarted: window });
  }

  /** Removes windows that are over or yielded; those with a `why` are audited and logged by the node that removes them. */
  async dropWindows(mailstore: string, drops: readonly WindowDrop[]): Promise<void> {
    const removals = drops.map(({ window, why }) => ({
      window,
      audit: why === undefined ? undefined : this.windowAudit(mailstore, 'drop-window', window, SYSTEM_ACTOR, why),
    }));
    const removed = await this.controls.windows.remove(mailstore, removals);
    for (const { window, audit } of removals) {
      if (audit && removed.includes(window))
        this.logger.warn({ event: EVENTS.maintenanceWindow, ...audit }, 'maintenance window dropped');
    }
  }

  async status(): Promise<MailstoreStatus[]> {
    const overrides = (await this.overrides?.readAll()) ?? new Map<string, StoreOverrides>();
    return Promise.all(
      Object.keys(this.config.mailstores).map(async (mailstore) => {
        const [state, counts, backlog, windows, lastError, retained] = await Promise.all([
          this.controls.read(mailstore),
          this.controls.counts(mailstore),
          this.backlog(mailstore),
          this.controls.windows.read(mailstore),
          this.controls.lastError(mailstore),
          this.retained?.status(mailstore),
        ]);
        const { enabled } = this.config.mailstores[mailstore]!.retention;
        const changed = {
          ...(overrides.has(mailstore) ? { overrides: overrides.get(mailstore) } : {}),
          ...(lastError ? { lastError } : {}),
          ...(retained ? { retention: { enabled, ...retained } } : {}),
        };
        if (state.kind !== 'releasing') return { mailstore, state, counts, backlog, windows, ...changed };
        const remaining = counts.waiting + counts.delayed + counts.active;
        return {
          mailstore,
          state,
          counts,
          backlog,
          ...changed,
          progress: { remaining, rate: state.rate, etaSeconds: etaSeconds(remaining, state.rate) },
          windows,
        };
      }),
    );
  }

  /** The backlog from the store's arrival index: counts, never a scan of the jobs. */
  async backlog(mailstore: string): Promise<BacklogStatus> {
    const now = this.now();
    const lifetime = this.config.mailstores[mailstore]!.lifetime;
    const warning = expiryWarning(lifetime);
    const [backlog, intervals] = await Promise.all([
      this.controls.backlogs.read(mailstore),
      this.controls.pausedIntervals(mailstore, now),
    ]);
    const threshold = latestArrivalHavingUsed(intervals, now, lifetime - warning);
    const cutoffs = [threshold, ...SHAPE_MINUTES.map((minutes) => now - minutes * 60_000)];
    const counts =
      backlog.messages === 0 ? cutoffs.map(() => 0) : await this.controls.backlogs.arrivedByEach(mailstore, cutoffs);
    const [expiringSoon = 0, ...olderThan] = counts;
    // Older than each boundary, into the count between boundaries: [<5m, 5-10m, ..., >1280m].
    const bounds = [backlog.messages, ...olderThan, 0];
    const shape = bounds.slice(0, -1).map((count, index) => count - bounds[index + 1]!);
    const oldest = backlog.oldestReceivedAt;
    return {
      messages: backlog.messages,
      bytes: backlog.bytes,
      ...(oldest === undefined ? {} : { oldestAgeSeconds: Math.max(0, Math.round((now - oldest) / 1000)) }),
      expiringSoon,
      expiringWithinSeconds: Math.round(warning / 1000),
      shape,
    };
  }

  async audit(limit: number): Promise<AuditEntry[]> {
    return this.controls.auditTrail(limit);
  }

  /** Decides with the pure state machine, then stores, audits, logs and enforces the result. */
  async command(mailstore: string, command: MailstoreCommand): Promise<MailstoreState> {
    return this.change(mailstore, command, {});
  }

  /** `command`, storing `stored` with the change (atomically: both or neither). */
  private async change(mailstore: string, command: MailstoreCommand, stored: StateEffects): Promise<MailstoreState> {
    this.requireMailstore(mailstore);
    const { state: previous, version } = await this.controls.readVersioned(mailstore);
    const decision = decide(mailstore, previous, command, this.now());
    if (!decision.ok) throw refused(decision.problem);
    const { state, audit, verdict } = decision;
    const effects: StateEffects = { ...stored };
    // Leaving a stopped state ends an interval that does not count toward lifetimes.
    // A stop replaced by another (a hold over a trip) ends one too: the new one starts its own `since`.
    const stopEnds = isStopped(previous) && (!isStopped(state) || state.since !== previous.since);
    if (stopEnds) effects.endedPause = { from: previous.since, to: audit.at };
    if (state.kind === 'guarded') effects.guardStarted = { from: audit.at };
    if (previous.kind === 'guarded' && verdict) effects.guardEnded = { from: previous.since, to: audit.at, verdict };
    if (!(await this.controls.apply(mailstore, version, state, audit, effects))) {
      throw refused(`mailstore ${mailstore} changed state meanwhile; try again`);
    }
    // A guard or a trip is alert-worthy: Holdfast stopped a store by itself.
    const level = audit.action === 'guard' || audit.action === 'trip' ? 'error' : 'warn';
    this.logger[level]({ event: EVENTS.mailstoreState, ...audit }, `mailstore ${audit.from} -> ${audit.to}`);
    return decision.state;
  }

  private requireMailstore(mailstore: string): void {
    if (!Object.hasOwn(this.config.mailstores, mailstore)) throw refused(`unknown mailstore "${mailstore}"`);
  }

  private windowAudit(
    mailstore: string,
    action: WindowAuditEntry['action'],
    window: MaintenanceWindow,
    by: string,
    reason: string,
  ): WindowAuditEntry {
    return { at: this.now(), mailstore, action, by, reason, window };
  }
}

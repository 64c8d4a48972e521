// Operator operations on mailstores (hold, release, status, audit), shared by the CLI and the HTTP API.
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import type { MailstoreControls, QueueCounts, StateEffects } from '../queue/mailstore-controls.js';
import {
  decide,
  isStopped,
  type AuditEntry,
  type MailstoreCommand,
  type MailstoreState,
} from '../policy/mailstore-state.js';
import { etaSeconds, type RampPlan } from '../policy/ramp.js';
import { latestArrivalHavingUsed } from '../policy/lifetime.js';
import type { StoreOverrides } from '../policy/store-move.js';
import type { StoreOverridesRepository } from '../queue/store-overrides.js';

export class MailstoreAdminError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MailstoreAdminError';
  }
}

export interface MailstoreStatus {
  mailstore: string;
  state: MailstoreState;
  counts: QueueCounts;
  /** While releasing: what is left and when it should be done at the current rate. */
  progress?: { remaining: number; rate: number; etaSeconds: number };
  backlog: BacklogStatus;
  /** What operators changed live: its mail moved to another store, other endpoints. */
  overrides?: StoreOverrides;
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
}

/** "Close to expiry": the last day of a message's lifetime, or its last fifth if that is shorter. */
export function expiryWarning(lifetimeMs: number): number {
  return Math.min(24 * 3600 * 1000, lifetimeMs / 5);
}

export class MailstoreAdmin {
  constructor(
    private readonly config: Config,
    private readonly controls: MailstoreControls,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    /** Live settings operators changed (a move, endpoints): shown in the status when given. */
    private readonly overrides?: StoreOverridesRepository,
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

  /** The release ramp of a mailstore, from its config. */
  rampPlan(mailstore: string): RampPlan {
    const store = this.config.mailstores[mailstore];
    if (!store) throw new MailstoreAdminError(`unknown mailstore "${mailstore}"`);
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

  async status(): Promise<MailstoreStatus[]> {
    const overrides = (await this.overrides?.readAll()) ?? new Map<string, StoreOverrides>();
    return Promise.all(
      Object.keys(this.config.mailstores).map(async (mailstore) => {
        const [state, counts, backlog] = await Promise.all([
          this.controls.read(mailstore),
          this.controls.counts(mailstore),
          this.backlog(mailstore),
        ]);
        const changed = overrides.has(mailstore) ? { overrides: overrides.get(mailstore) } : {};
        if (state.kind !== 'releasing') return { mailstore, state, counts, backlog, ...changed };
        const remaining = counts.waiting + counts.delayed + counts.active;
        return {
          mailstore,
          state,
          counts,
          backlog,
          ...changed,
          progress: { remaining, rate: state.rate, etaSeconds: etaSeconds(remaining, state.rate) },
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
    const expiringSoon = backlog.messages === 0 ? 0 : await this.controls.backlogs.arrivedBy(mailstore, threshold);
    const oldest = backlog.oldestReceivedAt;
    return {
      messages: backlog.messages,
      bytes: backlog.bytes,
      ...(oldest === undefined ? {} : { oldestAgeSeconds: Math.max(0, Math.round((now - oldest) / 1000)) }),
      expiringSoon,
      expiringWithinSeconds: Math.round(warning / 1000),
    };
  }

  async audit(limit: number): Promise<AuditEntry[]> {
    return this.controls.auditTrail(limit);
  }

  /** Decides with the pure state machine, then stores, audits, logs and enforces the result. */
  async command(mailstore: string, command: MailstoreCommand): Promise<MailstoreState> {
    if (!Object.hasOwn(this.config.mailstores, mailstore))
      throw new MailstoreAdminError(`unknown mailstore "${mailstore}"`);
    const { state: previous, version } = await this.controls.readVersioned(mailstore);
    const decision = decide(mailstore, previous, command, this.now());
    if (!decision.ok) throw new MailstoreAdminError(decision.problem);
    const { state, audit, verdict } = decision;
    const effects: StateEffects = {};
    // Leaving a stopped state ends an interval that does not count toward lifetimes.
    // A stop replaced by another (a hold over a trip) ends one too: the new one starts its own `since`.
    const stopEnds = isStopped(previous) && (!isStopped(state) || state.since !== previous.since);
    if (stopEnds) effects.endedPause = { from: previous.since, to: audit.at };
    if (state.kind === 'guarded') effects.guardStarted = { from: audit.at };
    if (previous.kind === 'guarded' && verdict) effects.guardEnded = { from: previous.since, to: audit.at, verdict };
    if (!(await this.controls.apply(mailstore, version, state, audit, effects))) {
      throw new MailstoreAdminError(`mailstore ${mailstore} changed state meanwhile; try again`);
    }
    // A guard or a trip is alert-worthy: Holdfast stopped a store by itself.
    const level = audit.action === 'guard' || audit.action === 'trip' ? 'error' : 'warn';
    this.logger[level]({ event: EVENTS.mailstoreState, ...audit }, `mailstore ${audit.from} -> ${audit.to}`);
    return decision.state;
  }
}

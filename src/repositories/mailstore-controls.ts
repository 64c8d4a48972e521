// Carries out mailstore policy in Redis: stores each state, appends the audit trail, pauses queues.
import type { Redis } from 'ioredis';
import { withTimeout } from '../errors.js';
import { LuaScript } from '../redis/scripts.js';
import { OPEN, deliveriesAllowed, isStopped, type AuditEntry, type MailstoreState } from '../policy/mailstore-state.js';
import type { PausedInterval } from '../policy/lifetime.js';
import type { GuardEpisode, OutcomeCounts } from '../policy/guard.js';
import type { MaintenanceWindow } from '../policy/maintenance.js';
import type { Keys } from '../queue/keys.js';
import type { MailQueues } from '../queue/queues.js';
import { Backlogs } from './backlog.js';
import { MaintenanceWindows, windowMember } from './maintenance-windows.js';
import { wallClock } from '../clock.js';

/** Held intervals and guard episodes kept per mailstore: far more than any lifetime sees. */
const KEPT = 1000;

/** Adds one attempt's outcomes to the 5xx guard's window and counts it (see the script). */
const OUTCOMES_ADD_SCRIPT = new LuaScript<[number, number]>('outcomes-add');

/** The guard's window is counted in this many buckets (so it may reach one bucket further back). */
const OUTCOME_BUCKETS = 10;

/** Compare-and-set of a mailstore state with everything stored alongside it; 1 when applied. */
const APPLY_SCRIPT = new LuaScript('state-apply');

/** What a state change begins or ends, stored with it. */
export interface StateEffects {
  endedPause?: PausedInterval;
  guardStarted?: GuardEpisode;
  guardEnded?: GuardEpisode;
  /** The maintenance window whose hold this is: marked started with it. */
  windowStarted?: MaintenanceWindow;
}

/** The audit trail keeps about this many entries (XADD MAXLEN ~). */
export const AUDIT_LENGTH = 100_000;

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
}

/** BullMQ's rate limit (max jobs per duration) for a rate in messages per second. */
export function rateLimit(perSecond: number): { max: number; duration: number } {
  if (perSecond >= 1) return { max: Math.round(perSecond), duration: 1000 };
  return { max: 1, duration: Math.round(1000 / perSecond) };
}

export class MailstoreControls {
  /** The stores' maintenance windows. */
  readonly windows: MaintenanceWindows;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly queues: MailQueues,
    private readonly timeoutMs: number,
    /** The store's own rate once open (messages per second; 0: none). */
    private readonly openRate: (mailstore: string) => number = () => 0,
  ) {
    this.backlogs = new Backlogs(redis, keys, timeoutMs);
    this.windows = new MaintenanceWindows(redis, keys, timeoutMs, AUDIT_LENGTH);
  }

  /** Each store's mail still to deliver, from its index. */
  readonly backlogs: Backlogs;

  async read(mailstore: string): Promise<MailstoreState> {
    const raw = await withTimeout(
      this.redis.get(this.keys.mailstoreState(mailstore)),
      this.timeoutMs,
      'reading a mailstore state',
    );
    return raw === null ? OPEN : (JSON.parse(raw) as MailstoreState);
  }

  /** The state and its stored form, which `apply` compares to detect a concurrent change. */
  async readVersioned(mailstore: string): Promise<{ state: MailstoreState; version: string }> {
    const raw = await withTimeout(
      this.redis.get(this.keys.mailstoreState(mailstore)),
      this.timeoutMs,
      'reading a mailstore state',
    );
    return { state: raw === null ? OPEN : (JSON.parse(raw) as MailstoreState), version: raw ?? '' };
  }

  /**
   * Stores the new state, its audit entry and what the change ends or begins (a held interval, a
   * guard episode) atomically, only if the state is still the one read as `version` (two nodes
   * guarding at once make one change, not two). Then makes the queue obey it. False: changed meanwhile.
   */
  async apply(
    mailstore: string,
    version: string,
    state: MailstoreState,
    audit: AuditEntry,
    effects: StateEffects = {},
  ): Promise<boolean> {
    const keys = [
      this.keys.mailstoreState(mailstore),
      this.keys.mailstoreAudit(mailstore),
      this.keys.mailstorePauses(mailstore),
      this.keys.mailstoreGuards(mailstore),
      this.keys.mailstoreOutcomes(mailstore),
      this.keys.mailstoreWindows(mailstore),
    ];
    const json = (value: unknown) => (value === undefined ? '' : JSON.stringify(value));
    const window = effects.windowStarted;
    const argv = [
      version,
      json(state),
      json(audit),
      json(effects.endedPause),
      json(effects.guardStarted),
      json(effects.guardEnded),
      String(KEPT),
      String(AUDIT_LENGTH),
      window ? windowMember(window) : '',
      window ? windowMember({ ...window, startedAt: audit.at }) : '',
      window ? String(window.from) : '',
    ];
    const applied = await withTimeout(
      APPLY_SCRIPT.run(this.redis, keys, argv),
      this.timeoutMs,
      'storing a mailstore state',
    );
    if (applied !== 1) return false;
    await this.enforce(mailstore, state);
    // A release means "deliver now": mail waiting for its next retry (or for its suspects' guard
    // window) is due at once instead of at its scheduled time, within the store's concurrency.
    if (effects.endedPause && deliveriesAllowed(state))
      await withTimeout(this.queues.get(mailstore).promoteJobs(), this.timeoutMs, 'promoting jobs');
    return true;
  }

  /**
   * Makes the mailstore's BullMQ queue obey its state: paused when stopped (global: every node's
   * workers stop taking its jobs, attempts in progress finish); at the ramp's pace (global
   * concurrency and rate limit) when releasing; at the store's own rate when open. Writes only
   * what differs. Also run periodically, so a node that died between storing a state and
   * applying it cannot leave them apart.
   */
  async enforce(mailstore: string, state: MailstoreState): Promise<void> {
    const queue = this.queues.get(mailstore);
    const bounded = <T>(what: string, promise: Promise<T>) => withTimeout(promise, this.timeoutMs, what);
    const meta = await bounded('reading a queue state', queue.getMeta());
    const stopped = !deliveriesAllowed(state);
    if (stopped) {
      if (!meta.paused) await bounded('pausing a queue', queue.pause());
      return;
    }
    // Limits first, then resume: a job taken before its limit exists would not count against it.
    const concurrency = state.kind === 'releasing' ? state.concurrency : undefined;
    const rate = state.kind === 'releasing' ? state.rate : this.openRate(mailstore);
    if (concurrency === undefined && meta.concurrency !== undefined) {
      await bounded('setting concurrency', queue.removeGlobalConcurrency());
    }
    if (concurrency !== undefined && meta.concurrency !== concurrency) {
      await bounded('setting concurrency', queue.setGlobalConcurrency(concurrency));
    }
    const limit = rate > 0 ? rateLimit(rate) : undefined;
    if (!limit && meta.max !== undefined) await bounded('setting a rate', queue.removeGlobalRateLimit());
    if (limit && (meta.max !== limit.max || meta.duration !== limit.duration)) {
      await bounded('setting a rate', queue.setGlobalRateLimit(limit.max, limit.duration));
    }
    if (meta.paused) await bounded('resuming a queue', queue.resume());
  }

  /** Consecutive failed attempts (the trip's count); the ramp steps back when there are any. */
  async consecutiveFailures(mailstore: string): Promise<number> {
    const count = await withTimeout(
      this.redis.get(this.keys.mailstoreFailures(mailstore)),
      this.timeoutMs,
      'reading failures',
    );
    return Number(count ?? 0);
  }

  /** Every interval the store was held, the current one (if held now) ending at `now`. */
  async pausedIntervals(mailstore: string, now: number): Promise<PausedInterval[]> {
    const [raw, state] = await Promise.all([
      withTimeout(
        this.redis.lrange(this.keys.mailstorePauses(mailstore), 0, -1),
        this.timeoutMs,
        'reading held intervals',
      ),
      this.read(mailstore),
    ]);
    const intervals = raw.map((entry) => JSON.parse(entry) as PausedInterval);
    if (isStopped(state)) intervals.push({ from: state.since, to: now });
    return intervals;
  }

  async guardEpisodes(mailstore: string): Promise<GuardEpisode[]> {
    const raw = await withTimeout(
      this.redis.lrange(this.keys.mailstoreGuards(mailstore), 0, -1),
      this.timeoutMs,
      'reading guard episodes',
    );
    return raw.map((entry) => JSON.parse(entry) as GuardEpisode);
  }

  /**
   * Adds one attempt's recipient outcomes to the store's window (shared by every node). With a
   * refusal among them it returns the counts within the window; without one it only adds (a single
   * HINCRBY: the guard never starts on a healthy answer) and returns undefined. The window is
   * counted in buckets of a tenth of it, so it may reach up to a tenth further back.
   */
  async recordOutcomes(
    mailstore: string,
    outcomes: OutcomeCounts,
    now: number,
    windowMs: number,
  ): Promise<OutcomeCounts | undefined> {
    const key = this.keys.mailstoreOutcomes(mailstore);
    const bucketMs = Math.max(1000, Math.ceil(windowMs / OUTCOME_BUCKETS));
    const bucket = Math.floor(now / bucketMs);
    const window = [key];
    const argv = (total: number, refused: number) => [
      bucket,
      Math.floor((now - windowMs) / bucketMs),
      2 * windowMs + bucketMs,
      total,
      refused,
    ];
    const run = (total: number, refused: number) =>
      withTimeout(
        OUTCOMES_ADD_SCRIPT.run(this.redis, window, argv(total, refused)),
        this.timeoutMs,
        'recording outcomes',
      );
    if (outcomes.refused > 0) {
      const [total, refused] = await run(outcomes.total, outcomes.refused);
      return { total, refused };
    }
    if (outcomes.total === 0) return undefined;
    const added = await withTimeout(
      this.redis.hincrby(key, `a:${bucket}`, outcomes.total),
      this.timeoutMs,
      'recording outcomes',
    );
    // The first outcome of a new bucket: drop the buckets that left the window, renew the expiry.
    if (added === outcomes.total) await run(0, 0);
    return undefined;
  }

  /** Counts consecutive failed attempts (any node); a healthy attempt resets it. Returns the count. */
  async recordHealth(mailstore: string, healthy: boolean, error?: string): Promise<number> {
    const key = this.keys.mailstoreFailures(mailstore);
    if (healthy)
      return withTimeout(
        this.redis.del(key).then(() => 0),
        this.timeoutMs,
        'counting failures',
      );
    const lastError = JSON.stringify({ at: wallClock(), error: error ?? 'failed' });
    const results = await withTimeout(
      this.redis.multi().incr(key).set(this.keys.mailstoreLastError(mailstore), lastError).exec(),
      this.timeoutMs,
      'counting failures',
    );
    const [incremented] = results ?? [];
    if (!incremented || incremented[0]) throw incremented?.[0] ?? new Error('transaction aborted');
    return incremented[1] as number;
  }

  /** The store's last failed attempt (kept after it recovers, so an operator can see what it was). */
  async lastError(mailstore: string): Promise<{ at: number; error: string } | undefined> {
    const raw = await withTimeout(
      this.redis.get(this.keys.mailstoreLastError(mailstore)),
      this.timeoutMs,
      'reading the last error',
    );
    return raw === null ? undefined : (JSON.parse(raw) as { at: number; error: string });
  }

  async counts(mailstore: string): Promise<QueueCounts> {
    const queue = this.queues.get(mailstore);
    const counts = await withTimeout(
      queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed'),
      this.timeoutMs,
      'counting jobs',
    );
    return {
      waiting: counts.waiting ?? 0, // includes the jobs of a paused queue
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      failed: counts.failed ?? 0,
      completed: counts.completed ?? 0,
    };
  }

  /** Records an operator action that is not a state change (e.g. a deletion). */
  async appendAudit(entry: AuditEntry): Promise<void> {
    const append = this.redis.xadd(
      this.keys.audit,
      'MAXLEN',
      '~',
      String(AUDIT_LENGTH),
      '*',
      'entry',
      JSON.stringify(entry),
    );
    await withTimeout(append, this.timeoutMs, 'appending to the audit trail');
  }

  /**
   * The newest `limit` audit entries, newest first: the shared trail and each store's (in the
   * store's slot, written with its state), merged by their stream ids (time first).
   */
  async auditTrail(limit: number): Promise<AuditEntry[]> {
    const streams = [this.keys.audit, ...this.queues.all().map((queue) => this.keys.mailstoreAudit(queue.name))];
    const read = await withTimeout(
      Promise.all(streams.map((stream) => this.redis.xrevrange(stream, '+', '-', 'COUNT', limit))),
      this.timeoutMs,
      'reading the audit trail',
    );
    const streamId = (id: string) => id.split('-').map(Number) as [number, number];
    const newestFirst = ([a]: [string, string[]], [b]: [string, string[]]) => {
      const [[aMs, aSeq], [bMs, bSeq]] = [streamId(a), streamId(b)];
      return bMs - aMs || bSeq - aSeq;
    };
    return read
      .flat()
      .sort(newestFirst)
      .slice(0, limit)
      .map(([, fields]) => JSON.parse(fields[1] ?? '{}') as AuditEntry);
  }
}

// Carries out mailstore policy in Redis: stores each state, appends the audit trail, pauses queues.
import type { Redis } from 'ioredis';
import { withTimeout, HoldfastError } from '../errors.js';
import { OPEN, deliveriesAllowed, type AuditEntry, type MailstoreState } from '../policy/mailstore-state.js';
import type { PausedInterval } from '../policy/lifetime.js';
import type { Keys } from './keys.js';
import type { MailQueues } from './queues.js';

/** Held intervals kept per mailstore: far more than any lifetime sees. */
const PAUSES_KEPT = 1000;

/** The audit trail keeps about this many entries (XADD MAXLEN ~). */
const AUDIT_LENGTH = 100_000;

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
}

export class MailstoreControls {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly queues: MailQueues,
    private readonly timeoutMs: number,
  ) {}

  async read(mailstore: string): Promise<MailstoreState> {
    const raw = await withTimeout(
      this.redis.get(this.keys.mailstoreState(mailstore)),
      this.timeoutMs,
      'reading a mailstore state',
    );
    return raw === null ? OPEN : (JSON.parse(raw) as MailstoreState);
  }

  /**
   * Stores the new state and its audit entry in one transaction, with the interval the store was
   * held when this ends one, then makes the queue obey it.
   */
  async apply(mailstore: string, state: MailstoreState, audit: AuditEntry, endedPause?: PausedInterval): Promise<void> {
    const transaction = this.redis.multi();
    transaction.set(this.keys.mailstoreState(mailstore), JSON.stringify(state));
    if (endedPause) {
      transaction.rpush(this.keys.mailstorePauses(mailstore), JSON.stringify(endedPause));
      transaction.ltrim(this.keys.mailstorePauses(mailstore), -PAUSES_KEPT, -1);
    }
    transaction.xadd(this.keys.audit, 'MAXLEN', '~', String(AUDIT_LENGTH), '*', 'entry', JSON.stringify(audit));
    const results = await withTimeout(transaction.exec(), this.timeoutMs, 'storing a mailstore state');
    const failed = (results ?? [[new Error('transaction aborted'), null]]).filter(([error]) => error);
    if (failed.length > 0)
      throw new HoldfastError('REDIS_TRANSACTION_FAILED', failed.map(([error]) => String(error)).join('; '));
    await this.enforce(mailstore, state);
  }

  /**
   * Pauses or resumes the mailstore's BullMQ queue to match its state. Pausing is global: every
   * node's workers stop taking its jobs, attempts in progress finish. Idempotent; also run
   * periodically, so a node that died between storing a state and pausing cannot leave them apart.
   */
  async enforce(mailstore: string, state: MailstoreState): Promise<void> {
    const queue = this.queues.get(mailstore);
    const paused = await withTimeout(queue.isPaused(), this.timeoutMs, 'reading a queue state');
    const shouldPause = !deliveriesAllowed(state);
    if (shouldPause && !paused) await withTimeout(queue.pause(), this.timeoutMs, 'pausing a queue');
    if (!shouldPause && paused) await withTimeout(queue.resume(), this.timeoutMs, 'resuming a queue');
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
    if (state.kind !== 'open') intervals.push({ from: state.since, to: now });
    return intervals;
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

  /** The newest `limit` audit entries, newest first. */
  async auditTrail(limit: number): Promise<AuditEntry[]> {
    const entries = await withTimeout(
      this.redis.xrevrange(this.keys.audit, '+', '-', 'COUNT', limit),
      this.timeoutMs,
      'reading the audit trail',
    );
    return entries.map(([, fields]) => JSON.parse(fields[1] ?? '{}') as AuditEntry);
  }
}

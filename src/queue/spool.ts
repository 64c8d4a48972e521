// Reads queued messages for delivery and deletes a job's copy of the bytes when the job ends.
import type { Redis } from 'ioredis';
import { withTimeout } from '../errors.js';
import { readTogether, type Read } from '../redis/connections.js';
import { LuaScript } from '../redis/scripts.js';
import { bodyKeyOf, pendingMember, type Keys } from './keys.js';
import { decodeBody } from './body-codec.js';
import type { DeliveryJobData } from './job-data.js';
import { wallClock } from '../clock.js';

/** Takes a job off its store's backlog, idempotently. */
const UNLIST_SCRIPT = new LuaScript('unlist');

/** Ends a job: its copy of the bytes deleted, off the backlog and held set. */
const FINISH_SCRIPT = new LuaScript('finish');

/** Ends a job queued before per-job copies; the last of the message's jobs deletes the shared body. */
const FINISH_SHARED_SCRIPT = new LuaScript('finish-shared');

/** One store's delivery job of one message, as the spool needs to know it. */
export interface JobRef {
  queueId: string;
  mailstore: string;
  jobId: string;
  size: number;
  /** The job has its own copy of the bytes (DeliveryJobData.ownCopy). */
  ownCopy?: boolean;
}

/** The spool's view of a delivery job (its id, or the queue id for a job that has none). */
export function jobRefOf(data: DeliveryJobData, jobId: string | undefined): JobRef {
  const { queueId, mailstore, size, ownCopy } = data;
  return { queueId, mailstore, jobId: jobId ?? queueId, size, ...(ownCopy ? { ownCopy } : {}) };
}

/**
 * How long a process remembers a job it finished: longer than a job's lock plus a stalled check,
 * the time a job whose finish was lost takes to come back. Wall-clock, not the policy clock.
 */
const REMEMBER_FINISHED_MS = 60_000;
const REMEMBER_FINISHED_MAX = 100_000;

/**
 * The jobs this process finished lately. A finish written to a Redis primary that was being
 * replaced (a Sentinel switchover: the old primary takes writes until the clients move, and they
 * are lost when it resyncs) is lost, but the fact is not: the job comes back from the new primary
 * and is finished again instead of delivered again.
 */
class RecentlyFinished {
  private readonly finished = new Map<string, number>();

  add(job: JobRef, now: number): void {
    const key = `${job.mailstore}/${job.jobId}`;
    this.finished.delete(key); // re-inserted last: the map stays in finishing order
    this.finished.set(key, now);
    for (const [oldest, at] of this.finished) {
      if (at > now - REMEMBER_FINISHED_MS && this.finished.size <= REMEMBER_FINISHED_MAX) break;
      this.finished.delete(oldest);
    }
  }

  has(job: JobRef, now: number): boolean {
    const at = this.finished.get(`${job.mailstore}/${job.jobId}`);
    return at !== undefined && at > now - REMEMBER_FINISHED_MS;
  }
}

export class Spool {
  private readonly recentlyFinished = new RecentlyFinished();

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly timeoutMs: number,
  ) {}

  /**
   * In one round trip (reads pipelined, no MULTI: each answer stands on its own): is this job still
   * to be delivered, is the message held by an operator, and its bytes as received (null when they
   * are gone). A job with its own copy is pending as long as that copy exists: only its end deletes it.
   */
  async take(job: JobRef): Promise<{ pending: boolean; held: boolean; body: Buffer | null }> {
    if (this.recentlyFinished.has(job, wallClock())) {
      // Finished here already, but Redis does not know (its primary changed): record it again, do not deliver.
      await this.finish(job);
      return { pending: false, held: false, body: null };
    }
    const [held, body, pending] = await withTimeout(this.readJob(job), this.timeoutMs, 'reading a job');
    const stored = (body as Buffer | null | undefined) ?? null;
    return {
      pending: job.ownCopy ? stored !== null : pending === 1,
      held: held === 1,
      body: stored === null ? null : await decodeBody(stored),
    };
  }

  /** The job's held flag, its body and (for a job queued before per-job copies) its pending flag. */
  private readJob(job: JobRef): Promise<unknown[]> {
    const held = this.keys.heldMessages(job.mailstore);
    const body = bodyKeyOf(this.keys, job);
    const reads: Read[] = [(client) => client.sismember(held, job.jobId), (client) => client.getBuffer(body)];
    if (!job.ownCopy) {
      const pending = this.keys.legacyPending(job.queueId);
      reads.push((client) => client.sismember(pending, pendingMember(job.mailstore, job.jobId, job.queueId)));
    }
    // On a Cluster not one pipeline: one read answered by the wrong primary made a queued job look
    // finished while its store's slot moved (see readTogether).
    return readTogether(this.redis, reads);
  }

  /** Ends one job (see FINISH_SCRIPT); idempotent: finishing twice removes nothing more. */
  async finish(job: JobRef): Promise<void> {
    const { keys } = this;
    const store = [
      keys.mailstoreBacklog(job.mailstore),
      keys.mailstoreBacklogBytes(job.mailstore),
      keys.heldMessages(job.mailstore),
    ];
    const finished = job.ownCopy
      ? FINISH_SCRIPT.run(this.redis, [keys.jobBody(job.mailstore, job.jobId), ...store], [job.jobId, job.size])
      : FINISH_SHARED_SCRIPT.run(
          this.redis,
          [keys.legacyPending(job.queueId), keys.legacyBody(job.queueId), keys.legacyMessage(job.queueId), ...store],
          [pendingMember(job.mailstore, job.jobId, job.queueId), job.jobId, job.size],
        );
    await withTimeout(finished, this.timeoutMs, 'finishing a delivery');
    this.recentlyFinished.add(job, wallClock());
  }

  /** Takes a job off its store's backlog, keeping the message (mail kept for the operator). */
  async unlist(job: JobRef): Promise<void> {
    await unlistJob(this.redis, this.keys, job, this.timeoutMs);
  }
}

/** Puts a job back on its store's backlog (a kept message retried); idempotent like unlist. */
const RELIST_SCRIPT = new LuaScript('relist');

export async function relistJob(
  redis: Redis,
  keys: Keys,
  job: JobRef & { receivedAt: number },
  timeoutMs: number,
): Promise<void> {
  const redisKeys = [keys.mailstoreBacklog(job.mailstore), keys.mailstoreBacklogBytes(job.mailstore)];
  await withTimeout(
    RELIST_SCRIPT.run(redis, redisKeys, [job.jobId, job.size, job.receivedAt]),
    timeoutMs,
    'putting a job back on the backlog',
  );
}

export async function unlistJob(redis: Redis, keys: Keys, job: JobRef, timeoutMs: number): Promise<void> {
  const redisKeys = [keys.mailstoreBacklog(job.mailstore), keys.mailstoreBacklogBytes(job.mailstore)];
  await withTimeout(
    UNLIST_SCRIPT.run(redis, redisKeys, [job.jobId, job.size]),
    timeoutMs,
    'taking a job off the backlog',
  );
}

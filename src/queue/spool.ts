// Reads queued messages for delivery and releases their body when the last delivery job ends.
import type { Redis } from 'ioredis';
import { withTimeout } from '../errors.js';
import { LuaScript } from '../redis/scripts.js';
import { pendingMember, type Keys } from './keys.js';
import { decodeBody } from './body-codec.js';

/** Takes a job off its store's backlog, idempotently. */
const UNLIST_SCRIPT = new LuaScript('unlist');

/** Ends one job's part; the last one out deletes the message. */
const FINISH_SCRIPT = new LuaScript('finish');

/** One store's delivery job of one message, as the spool needs to know it. */
export interface JobRef {
  queueId: string;
  mailstore: string;
  jobId: string;
  size: number;
}

export interface StoredMessage {
  body: Buffer;
}

export class Spool {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly timeoutMs: number,
  ) {}

  /**
   * In one round trip (three reads pipelined, no MULTI: each answer stands on its own): is this
   * job's delivery still pending, is the message held by an operator, and its body as received
   * (null when it is gone).
   */
  async take(job: JobRef): Promise<{ pending: boolean; held: boolean; body: Buffer | null }> {
    const member = pendingMember(job.mailstore, job.jobId, job.queueId);
    const results = await withTimeout(
      this.redis
        .pipeline()
        .sismember(this.keys.pending(job.queueId), member)
        .sismember(this.keys.heldMessages(job.mailstore), job.jobId)
        .getBuffer(this.keys.body(job.queueId))
        .exec(),
      this.timeoutMs,
      'reading a job',
    );
    const [pending, held, body] = (results ?? []).map(([error, value]) => {
      if (error) throw error;
      return value;
    });
    const stored = (body as Buffer | null | undefined) ?? null;
    return { pending: pending === 1, held: held === 1, body: stored === null ? null : await decodeBody(stored) };
  }

  /** Ends one job's part (see FINISH_SCRIPT); idempotent: finishing twice removes nothing more. */
  async finish(job: JobRef): Promise<void> {
    const { keys } = this;
    const redisKeys = [
      keys.pending(job.queueId),
      keys.body(job.queueId),
      keys.message(job.queueId),
      keys.mailstoreBacklog(job.mailstore),
      keys.mailstoreBacklogBytes(job.mailstore),
      keys.heldMessages(job.mailstore),
    ];
    const member = pendingMember(job.mailstore, job.jobId, job.queueId);
    await withTimeout(
      FINISH_SCRIPT.run(this.redis, redisKeys, [member, job.jobId, job.size]),
      this.timeoutMs,
      'finishing a delivery',
    );
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

// Runs one BullMQ worker per mailstore queue and carries out what the delivery code decides.
import { setTimeout as sleep } from 'node:timers/promises';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DeliveryJobData } from './job-data.js';
import type { Keys } from './keys.js';
import { jobRefOf, type Spool } from './spool.js';
import { errorBackoff } from './queues.js';
import type { WorkerActivity } from './consumers.js';
import { Deadline, wallClock } from '../clock.js';

/** What a delivery decided for its job; the consumer turns it into BullMQ state. */
export type DeliveryOutcome =
  | { kind: 'done' }
  | { kind: 'retry'; delayMs: number; data: DeliveryJobData }
  | { kind: 'kept'; reason: string; data: DeliveryJobData };

/**
 * One delivery of a job. `checkpoint` stores the job's data at once: a step that must not be
 * repeated if the rest fails (recipients moved to another store's queue) calls it. `jobId`
 * defaults to the queue id (the job made at reception).
 */
export type DeliverFunction = (
  data: DeliveryJobData,
  body: Buffer,
  checkpoint: (data: DeliveryJobData) => Promise<void>,
  jobId?: string,
) => Promise<DeliveryOutcome>;

export interface ConsumerOptions {
  connection: Redis;
  keys: Keys;
  spool: Spool;
  concurrency: number;
  /** A job whose worker stopped renewing its lock for this long is taken over by another worker. */
  lockDuration: number;
  /** How often workers look for such stalled jobs. */
  stalledInterval: number;
  deliver: DeliverFunction;
  /** Called when a job ends without a body (should not happen: logged loudly). */
  onMissingBody: (data: DeliveryJobData) => void;
  onError: (error: Error, data?: DeliveryJobData) => void;
  /** Counted here for the watchdog: jobs taken, jobs running. */
  activity: WorkerActivity;
  /** The policy clock (injected in tests), for the times of message holds. */
  now: () => number;
}

/**
 * Worker options from DESIGN.md: stalled jobs (a node died mid-delivery, or Redis restarted while
 * a job was active) are picked up again many times rather than failed after one stall, once their
 * lock has expired; rate limit changes reach workers within 1 s.
 */
export function createConsumer(mailstore: string, options: ConsumerOptions): Worker<DeliveryJobData> {
  const { activity } = options;
  const processor = async (job: Job<DeliveryJobData>, token: string | undefined) => {
    activity.started += 1;
    activity.running += 1;
    try {
      await runJob(job, token, options);
    } finally {
      activity.running -= 1;
    }
  };
  const worker = new Worker<DeliveryJobData>(mailstore, processor, {
    connection: options.connection,
    prefix: options.keys.bullmqPrefix(mailstore),
    concurrency: options.concurrency,
    maxStalledCount: 1000,
    stalledInterval: options.stalledInterval,
    lockDuration: options.lockDuration,
    maximumRateLimitDelay: 1000,
    // After a failed Redis call (a failover, a Cluster slot being moved) the worker tries again in
    // 2 s instead of BullMQ's 15 s: each such error otherwise stops the store's deliveries that long.
    runRetryDelay: RUN_RETRY_DELAY_MS,
    settings: { backoffStrategy: (attemptsMade: number) => errorBackoff(attemptsMade) },
  });
  worker.on('error', (error) => options.onError(error));
  worker.on('failed', (job, error) => {
    if (!(error instanceof UnrecoverableError)) options.onError(error, job?.data);
  });
  return worker;
}

/** How long a worker waits after a failed fetch or finish before trying again. */
export const RUN_RETRY_DELAY_MS = 2000;

/** How long a held message stays parked before its hold is looked at again (a release promotes it at once). */
export const HELD_RECHECK_MS = 5 * 60_000;

/** The message's hold is over: its held time joins the intervals that do not count toward its lifetime. */
export function endOfHold(data: DeliveryJobData, now: number): DeliveryJobData {
  const { heldSince, ...rest } = data;
  if (heldSince === undefined) return data;
  return { ...rest, heldIntervals: [...(data.heldIntervals ?? []), { from: heldSince, to: now }] };
}

/**
 * Records a delivery that was made, trying again while Redis does not answer, for as long as the
 * job's lock lasts: recorded late, the delivery is not made again (a node taking the job over finds
 * it finished); never recorded, it is made again once the lock lapses.
 */
async function finishPatiently(spool: Spool, job: Parameters<Spool['finish']>[0], patienceMs: number): Promise<void> {
  const deadline = new Deadline(patienceMs);
  for (let waitMs = 250; ; waitMs = Math.min(waitMs * 2, 2000)) {
    try {
      return await spool.finish(job);
    } catch (error) {
      if (deadline.remainingMs < waitMs) throw error;
      await sleep(waitMs);
    }
  }
}

async function runJob(job: Job<DeliveryJobData>, token: string | undefined, options: ConsumerOptions): Promise<void> {
  const { spool, deliver } = options;
  let data = job.data;
  const jobRef = jobRefOf(data, job.id);
  const { pending, held, body } = await spool.take(jobRef);
  // A job that ran to its end before a crash kept BullMQ from recording it: do not deliver twice.
  if (!pending) return;
  if (held) {
    // Held by an operator: parked, not attempted. Release promotes it; this is only the fallback.
    await job.updateData({ ...data, heldSince: data.heldSince ?? options.now() });
    await job.moveToDelayed(wallClock() + HELD_RECHECK_MS, token);
    throw new DelayedError();
  }
  if (data.heldSince !== undefined) {
    data = endOfHold(data, options.now());
    await job.updateData(data);
  }
  if (body === null) {
    options.onMissingBody(data);
    throw new UnrecoverableError(`message body ${data.queueId} is missing`);
  }
  const outcome = await deliver(data, body, (saved) => job.updateData(saved), jobRef.jobId);
  switch (outcome.kind) {
    case 'done':
      await finishPatiently(spool, jobRef, options.lockDuration);
      return;
    case 'retry':
      await job.updateData(outcome.data);
      // Delays are relative: the policy clock may be injected, BullMQ's is the real one.
      await job.moveToDelayed(wallClock() + outcome.delayMs, token);
      throw new DelayedError();
    case 'kept':
      await job.updateData(outcome.data);
      await spool.unlist(jobRef);
      throw new UnrecoverableError(outcome.reason);
  }
}

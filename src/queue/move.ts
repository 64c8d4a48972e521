// Moves queued mail to another mailstore's queue: some recipients of a message, or all of a moved store's mail.
import { Job, type IRedisTransaction } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import { HoldfastError, withTimeout } from '../errors.js';
import { DELIVERY_JOB_NAME, type DeliveryJobData } from './job-data.js';
import { pendingMember } from './keys.js';
import type { Redis } from 'ioredis';
import type { MailQueues } from './queues.js';
import { mergeIntervals, type PausedInterval } from '../policy/lifetime.js';
import { jobRefOf, type Spool } from './spool.js';
import { DELIVERY_JOB_OPTIONS } from './queues.js';
import type { MessageEvents, Trace } from '../repositories/trace.js';
import { wallClock } from '../clock.js';

/**
 * Adds a job for `recipients` of the message to `mailstore`'s queue, with its own copy of the
 * bytes (read from the source job's), in one transaction; returns its job id. The caller then
 * takes those recipients off the source job: a crash in between can deliver them twice, never
 * lose them (at-least-once). A source queued before per-job copies shares its body: the new job
 * joins the message's pending set instead.
 */
export async function addMovedJob(
  queues: MailQueues,
  source: DeliveryJobData,
  sourceJobId: string,
  mailstore: string,
  recipients: readonly string[],
  timeoutMs: number,
  carried: {
    failures?: DeliveryJobData['failures'];
    held?: boolean;
    /**
     * When the source store was held (tripped, guarded): that time keeps not counting toward the
     * lifetime on the new store, whose own holds are a different history.
     */
    sourcePauses?: readonly PausedInterval[];
  } = {},
): Promise<string> {
  const jobId = `${source.queueId}-${wallClock().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const sourcePauses = (carried.sourcePauses ?? []).filter(({ to }) => to > source.receivedAt);
  const heldIntervals = mergeIntervals([...(source.heldIntervals ?? []), ...sourcePauses]);
  const data: DeliveryJobData = {
    ...source,
    ...(heldIntervals.length > 0 ? { heldIntervals } : {}),
    mailstore,
    recipients: [...recipients],
    failures: carried.failures ?? [],
    suspects: [],
    attempts: 0,
  };
  const { keys } = queues;
  const copy = source.ownCopy
    ? await withTimeout(
        queues.connection.getBuffer(keys.jobBody(source.mailstore, sourceJobId)),
        timeoutMs,
        'reading a message',
      )
    : null;
  if (source.ownCopy && copy === null) throw new Error(`job ${sourceJobId} has no copy of its message: it has ended`);
  const queue = queues.get(mailstore);
  const client = await withTimeout(queue.getBackend().client, timeoutMs, 'connecting to Redis');
  const transaction = client.multi() as IRedisTransaction &
    Pick<ChainableCommander, 'set' | 'sadd' | 'zadd' | 'incrby'>;
  if (copy) transaction.set(keys.jobBody(mailstore, jobId), copy);
  else transaction.sadd(keys.legacyPending(source.queueId), pendingMember(mailstore, jobId, source.queueId));
  if (carried.held) transaction.sadd(keys.heldMessages(mailstore), jobId);
  transaction.zadd(keys.mailstoreBacklog(mailstore), source.receivedAt, jobId);
  transaction.incrby(keys.mailstoreBacklogBytes(mailstore), source.size);
  await new Job(queue, DELIVERY_JOB_NAME, data, { ...DELIVERY_JOB_OPTIONS, jobId }, jobId).addJob(transaction);
  const results = await withTimeout(transaction.exec(), timeoutMs, 'moving recipients');
  const failed = (results ?? [[new Error('transaction aborted'), null]]).filter(([error]) => error);
  if (failed.length > 0)
    throw new HoldfastError('REDIS_TRANSACTION_FAILED', failed.map(([error]) => String(error)).join('; '));
  return jobId;
}

/**
 * Moves the queued mail of `from` (whose mail an operator moved) to `to`, up to `batch` jobs, one
 * node at a time. Only while `from`'s queue is paused: no worker can take a job meanwhile, so
 * each job is copied to `to` and then removed (a crash in between leaves a duplicate, never a
 * loss). An open store's workers reroute its jobs themselves at their next attempt; its deferred
 * jobs are made due now so that this happens at once. Returns how many jobs were moved or made due.
 * Each message moved gets a `moved` event in the trace, when one is given.
 */
export async function moveQueuedMail(
  queues: MailQueues,
  spool: Spool,
  redis: Redis,
  move: { from: string; to: string },
  timeoutMs: number,
  {
    batch = 500,
    trace,
    pausedIntervals,
  }: {
    batch?: number;
    trace?: Trace;
    /** The held intervals of `from`, carried onto the moved jobs (see addMovedJob). */
    pausedIntervals?: () => Promise<PausedInterval[]>;
  } = {},
): Promise<number> {
  const { keys } = queues;
  const lock = keys.mailstoreSweepLock(move.from);
  const token = Math.random().toString(36).slice(2);
  if ((await withTimeout(redis.set(lock, token, 'PX', 30_000, 'NX'), timeoutMs, 'locking a move')) !== 'OK') return 0;
  const traced: MessageEvents[] = [];
  try {
    const queue = queues.get(move.from);
    const bounded = <T>(what: string, promise: Promise<T>) => withTimeout(promise, timeoutMs * 10, what);
    if (!(await bounded('reading a queue state', queue.isPaused()))) {
      const deferred = await bounded('listing jobs', queue.getJobs(['delayed'], 0, batch - 1, true));
      await Promise.all(deferred.map((job) => job.promote().catch(() => undefined)));
      return deferred.length;
    }
    const jobs = await bounded(
      'listing jobs',
      queue.getJobs(['waiting', 'prioritized', 'delayed'], 0, batch - 1, true),
    );
    const held = new Set(await bounded('reading held messages', redis.smembers(keys.heldMessages(move.from))));
    const sourcePauses = (await pausedIntervals?.()) ?? [];
    let moved = 0;
    for (const job of jobs) {
      const data = job.data;
      const jobId = job.id ?? data.queueId;
      // Recipients the old store called unknown get their chance on the new one.
      const recipients = [...data.recipients, ...(data.suspects ?? []).map((suspect) => suspect.recipient)];
      if (recipients.length > 0 || data.failures.length > 0) {
        await addMovedJob(queues, data, jobId, move.to, recipients, timeoutMs, {
          failures: data.failures,
          held: held.has(jobId),
          sourcePauses,
        });
        const movedRecipients = [...recipients, ...data.failures.map((failure) => failure.recipient)];
        if (trace) traced.push(movedEvent(trace.now(), data, move, movedRecipients));
      }
      if ((await bounded('removing a job', queue.remove(jobId))) === 1) {
        await spool.finish(jobRefOf(data, jobId));
      }
      moved++;
    }
    return moved;
  } finally {
    await trace?.recordAll(traced); // never throws: what was moved is traced even if the pass stopped
    if ((await redis.get(lock).catch(() => null)) === token) await redis.del(lock).catch(() => undefined);
  }
}

function movedEvent(
  at: number,
  data: DeliveryJobData,
  move: { from: string; to: string },
  recipients: string[],
): MessageEvents {
  const event = { at, queueId: data.queueId, kind: 'moved' as const, mailstore: move.to, recipients };
  return { messageId: data.messageId, events: [{ ...event, detail: `store ${move.from} moved to ${move.to}` }] };
}

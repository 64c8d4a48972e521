// Moves recipients of a queued message to another mailstore's queue: a new job, registered as pending.
import { Job, type IRedisTransaction } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import { HoldfastError, withTimeout } from '../errors.js';
import { DELIVERY_JOB_NAME, type DeliveryJobData } from './job-data.js';
import { pendingMember } from './keys.js';
import type { MailQueues } from './queues.js';
import { DELIVERY_JOB_OPTIONS } from './queues.js';

/**
 * Adds a job for `recipients` of the message to `mailstore`'s queue and its pending member, in
 * one transaction; returns its job id. The caller then takes those recipients off the source
 * job: a crash in between can deliver them twice, never lose them (at-least-once).
 */
export async function addMovedJob(
  queues: MailQueues,
  source: DeliveryJobData,
  mailstore: string,
  recipients: readonly string[],
  timeoutMs: number,
): Promise<string> {
  const jobId = `${source.queueId}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const data: DeliveryJobData = {
    ...source,
    mailstore,
    recipients: [...recipients],
    failures: [],
    suspects: [],
    attempts: 0,
  };
  const queue = queues.get(mailstore);
  const client = await withTimeout(queue.getBackend().client, timeoutMs, 'connecting to Redis');
  const transaction = client.multi() as IRedisTransaction & Pick<ChainableCommander, 'sadd' | 'zadd' | 'incrby'>;
  transaction.sadd(queues.keys.pending(source.queueId), pendingMember(mailstore, jobId, source.queueId));
  transaction.zadd(queues.keys.mailstoreBacklog(mailstore), source.receivedAt, jobId);
  transaction.incrby(queues.keys.mailstoreBacklogBytes(mailstore), source.size);
  await new Job(queue, DELIVERY_JOB_NAME, data, { ...DELIVERY_JOB_OPTIONS, jobId }, jobId).addJob(transaction);
  const results = await withTimeout(transaction.exec(), timeoutMs, 'moving recipients');
  const failed = (results ?? [[new Error('transaction aborted'), null]]).filter(([error]) => error);
  if (failed.length > 0)
    throw new HoldfastError('REDIS_TRANSACTION_FAILED', failed.map(([error]) => String(error)).join('; '));
  return jobId;
}

// One BullMQ queue per mailstore, all on one shared connection, with the job options Holdfast needs.
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import type { DeliveryJobData } from './job-data.js';

/**
 * Retries for unexpected errors (a Redis blip while reading the body, a bug): many attempts,
 * with the capped backoff below. Retries of deliveries themselves follow the mailstore's
 * schedule and do not use these attempts. A completed job is removed at once: the message trace
 * says what became of it, and keeping it would cost BullMQ a sorted-set entry, a hash write and a
 * trim per delivery. Failed jobs are mail kept for the operator and stay until the operator acts.
 */
export const DELIVERY_JOB_OPTIONS: JobsOptions = {
  attempts: 10_000,
  backoff: { type: 'holdfast' },
  removeOnComplete: true,
  removeOnFail: false,
};

/** Backoff for unexpected processor errors: 1 s doubling up to 5 minutes. */
export function errorBackoff(attemptsMade: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attemptsMade - 1), 300_000);
}

export class MailQueues {
  private readonly queues = new Map<string, Queue<DeliveryJobData>>();

  constructor(
    readonly connection: Redis,
    readonly keys: Keys,
    mailstores: Iterable<string>,
    onError: (error: Error, mailstore: string) => void,
  ) {
    for (const mailstore of mailstores) {
      const queue = new Queue<DeliveryJobData>(mailstore, {
        connection,
        prefix: keys.bullmqPrefix(mailstore),
        defaultJobOptions: DELIVERY_JOB_OPTIONS,
      });
      // Connection errors surface here while Redis is away; the commands that fail say the rest.
      queue.on('error', (error) => onError(error, mailstore));
      this.queues.set(mailstore, queue);
    }
  }

  get(mailstore: string): Queue<DeliveryJobData> {
    const queue = this.queues.get(mailstore);
    if (!queue) throw new Error(`no queue for mailstore ${mailstore}`);
    return queue;
  }

  all(): Queue<DeliveryJobData>[] {
    return [...this.queues.values()];
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((queue) => queue.close()));
  }
}

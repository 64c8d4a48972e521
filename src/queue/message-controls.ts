// Operator access to queued messages in BullMQ: list a store's jobs, remove one (and its body when last).
import { withTimeout } from '../errors.js';
import type { DeliveryJobData } from './job-data.js';
import type { MailQueues } from './queues.js';
import type { Spool } from './spool.js';

export interface QueuedMessage {
  queueId: string;
  /** The delivery job (the queue id, or a later job for rerouted recipients). */
  jobId: string;
  mailstore: string;
  sender: string;
  recipients: string[];
  receivedAt: number;
  size: number;
  state: 'waiting' | 'delayed' | 'failed';
}

const LISTED_STATES = ['waiting', 'delayed', 'failed'] as const;

export class MessageControls {
  constructor(
    private readonly queues: MailQueues,
    private readonly spool: Spool,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Every message of the store not being delivered right now. It reads each job: an operator
   * operation, not for status pages (issue 4 brings counters for those).
   */
  async list(mailstore: string): Promise<QueuedMessage[]> {
    const queue = this.queues.get(mailstore);
    const messages: QueuedMessage[] = [];
    for (const state of LISTED_STATES) {
      const jobs = await withTimeout(queue.getJobs([state], 0, -1, true), this.timeoutMs * 10, 'listing jobs');
      for (const job of jobs) messages.push(describe(job.id ?? job.data.queueId, job.data, state));
    }
    return messages;
  }

  /** Removes a message's job for this store; false when it is being delivered right now. */
  async remove(message: QueuedMessage): Promise<boolean> {
    const queue = this.queues.get(message.mailstore);
    const removed = await withTimeout(queue.remove(message.jobId), this.timeoutMs, 'removing a job');
    if (removed !== 1) return false;
    await this.spool.finish(message);
    return true;
  }
}

function describe(jobId: string, data: DeliveryJobData, state: QueuedMessage['state']): QueuedMessage {
  const recipients = [
    ...data.recipients,
    ...data.failures.map((failure) => failure.recipient),
    ...(data.suspects ?? []).map((suspect) => suspect.recipient),
  ];
  return {
    queueId: data.queueId,
    jobId,
    mailstore: data.mailstore,
    sender: data.sender,
    recipients,
    receivedAt: data.receivedAt,
    size: data.size,
    state,
  };
}

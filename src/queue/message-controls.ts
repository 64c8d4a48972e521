// Operator access to queued messages in BullMQ: list a store's jobs, remove one (and its copy of the bytes).
import { withTimeout } from '../errors.js';
import type { DeliveryJobData } from './job-data.js';
import type { MailQueues } from './queues.js';
import type { Redis } from 'ioredis';
import { jobRefOf, relistJob, type Spool } from './spool.js';
import { decodeBody, isCompressed } from './body-codec.js';

export interface QueuedMessage {
  queueId: string;
  /** The delivery job (the queue id, or a later job for rerouted recipients). */
  jobId: string;
  mailstore: string;
  sender: string;
  recipients: string[];
  receivedAt: number;
  size: number;
  /** The header Message-ID, when the message has one. */
  messageId?: string;
  /** held: by an operator, one by one; failed: kept for the operator after a permanent failure. */
  state: 'waiting' | 'delayed' | 'held' | 'failed';
}

export interface StoredEnvelope {
  queueId: string;
  sender: string;
  receivedAt: number;
  size: number;
  client: string;
  headers: string;
}

const HEADER_READ_LIMIT = 64 * 1024;

/** What happened to one message under an operator action. */
export type ActionOutcome = 'done' | 'unchanged' | 'busy';

const LISTED_STATES = ['waiting', 'delayed', 'failed'] as const;

export class MessageControls {
  constructor(
    private readonly queues: MailQueues,
    private readonly spool: Spool,
    private readonly redis: Redis,
    private readonly timeoutMs: number,
  ) {}

  private get keys() {
    return this.queues.keys;
  }

  /**
   * Every message of the store not being delivered right now. It reads each job: an operator
   * operation, not for status pages (those read the backlog index).
   */
  async list(mailstore: string): Promise<QueuedMessage[]> {
    const queue = this.queues.get(mailstore);
    const held = new Set(
      await withTimeout(
        this.redis.smembers(this.keys.heldMessages(mailstore)),
        this.timeoutMs,
        'reading held messages',
      ),
    );
    const messages: QueuedMessage[] = [];
    for (const state of LISTED_STATES) {
      const jobs = await withTimeout(queue.getJobs([state], 0, -1, true), this.timeoutMs * 10, 'listing jobs');
      for (const job of jobs) {
        const jobId = job.id ?? job.data.queueId;
        const shown = state !== 'failed' && held.has(jobId) ? 'held' : state;
        messages.push(describe(jobId, job.data, shown));
      }
    }
    return messages;
  }

  /** The first HEADER_READ_LIMIT bytes of the message as received: a compressed body is read whole. */
  private async readHead(key: string): Promise<string> {
    const head = await this.redis.getrangeBuffer(key, 0, HEADER_READ_LIMIT - 1);
    if (!isCompressed(head)) return head.toString();
    const stored = await this.redis.getBuffer(key);
    return stored === null ? '' : (await decodeBody(stored)).subarray(0, HEADER_READ_LIMIT).toString();
  }

  /**
   * The message's envelope and its header block (up to the first empty line, at most 64 KB), or
   * null: read from its reception job in any store (or from `jobs`, its listed jobs, for a message
   * whose recipients were all moved), or for a message queued before per-job copies, from its
   * shared envelope.
   */
  async envelope(queueId: string, jobs: readonly QueuedMessage[] = []): Promise<StoredEnvelope | null> {
    const read = async (): Promise<StoredEnvelope | null> => {
      const legacy = await this.redis.hgetall(this.keys.legacyMessage(queueId));
      if (legacy.receivedAt !== undefined) {
        const { sender = '', receivedAt, size = '0', client = '' } = legacy;
        const head = await this.readHead(this.keys.legacyBody(queueId));
        return { queueId, sender, receivedAt: Number(receivedAt), size: Number(size), client, headers: head };
      }
      const candidates = [
        ...this.queues.all().map((queue) => ({ mailstore: queue.name, jobId: queueId })),
        ...jobs.map(({ mailstore, jobId }) => ({ mailstore, jobId })),
      ];
      for (const { mailstore, jobId } of candidates) {
        const job = await this.queues.get(mailstore).getJob(jobId);
        if (!job?.data.ownCopy || job.data.queueId !== queueId) continue;
        const { sender, receivedAt, size, client = '' } = job.data;
        const head = await this.readHead(this.keys.jobBody(mailstore, jobId));
        return { queueId, sender, receivedAt, size, client, headers: head };
      }
      return null;
    };
    const envelope = await withTimeout(read(), this.timeoutMs * 10, 'reading a message');
    if (!envelope) return null;
    const end = envelope.headers.search(/\r?\n\r?\n/);
    return { ...envelope, headers: end === -1 ? envelope.headers : envelope.headers.slice(0, end) };
  }

  /** Removes a message's job for this store; false when it is being delivered right now. */
  async remove(message: QueuedMessage): Promise<boolean> {
    const queue = this.queues.get(message.mailstore);
    const job = await withTimeout(queue.getJob(message.jobId), this.timeoutMs, 'reading a job');
    if (!job) return false;
    const removed = await withTimeout(queue.remove(message.jobId), this.timeoutMs, 'removing a job');
    if (removed !== 1) return false;
    await this.spool.finish(jobRefOf(job.data, message.jobId));
    return true;
  }

  /** Holds a message: its next attempt parks it instead, until it is released. Kept mail is not held. */
  async hold(message: QueuedMessage): Promise<ActionOutcome> {
    if (message.state === 'failed' || message.state === 'held') return 'unchanged';
    const added = await withTimeout(
      this.redis.sadd(this.keys.heldMessages(message.mailstore), message.jobId),
      this.timeoutMs,
      'holding a message',
    );
    return added === 1 ? 'done' : 'unchanged';
  }

  /** Releases a held message; one already parked is tried at once. */
  async release(message: QueuedMessage): Promise<ActionOutcome> {
    const removed = await withTimeout(
      this.redis.srem(this.keys.heldMessages(message.mailstore), message.jobId),
      this.timeoutMs,
      'releasing a message',
    );
    if (removed !== 1) return 'unchanged';
    await this.promoteIfDelayed(message);
    return 'done';
  }

  /**
   * Tries a message now: a deferred one skips the rest of its wait; one kept after a permanent
   * failure goes back to the queue (its bounce is tried again). Waiting mail is already due.
   */
  async retry(message: QueuedMessage): Promise<ActionOutcome> {
    if (message.state === 'held') return 'unchanged'; // release it first: a retry does not lift a hold
    if (message.state === 'delayed') return (await this.promoteIfDelayed(message)) ? 'done' : 'busy';
    if (message.state !== 'failed') return 'unchanged';
    const job = await withTimeout(
      this.queues.get(message.mailstore).getJob(message.jobId),
      this.timeoutMs,
      'reading a job',
    );
    if (!job) return 'busy';
    await relistJob(this.redis, this.keys, { ...message, receivedAt: message.receivedAt }, this.timeoutMs);
    await withTimeout(job.retry('failed'), this.timeoutMs, 'retrying a job');
    return 'done';
  }

  /** Moves a delayed job to waiting; false if it is no longer delayed (running, or already moved). */
  private async promoteIfDelayed(message: QueuedMessage): Promise<boolean> {
    const queue = this.queues.get(message.mailstore);
    const job = await withTimeout(queue.getJob(message.jobId), this.timeoutMs, 'reading a job');
    if (!job) return false;
    try {
      await withTimeout(job.promote(), this.timeoutMs, 'promoting a job');
      return true;
    } catch {
      return false; // not delayed any more: it runs, or waits already
    }
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
    ...(data.messageId === undefined ? {} : { messageId: data.messageId }),
    state,
  };
}

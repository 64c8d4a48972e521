// Commits a received message, one job per mailstore each with its own copy of the bytes: in one Redis
// transaction, or on a Cluster one per store.
import { Job, type IRedisTransaction } from 'bullmq';
import type { ChainableCommander, Redis } from 'ioredis';
import { jobInsertClient, loadJobInsertScripts } from '../internals/bullmq-commit.js';
import { HoldfastError, withTimeout } from '../errors.js';
import { DELIVERY_JOB_NAME, type DeliveryJobData } from './job-data.js';
import type { MailQueues } from './queues.js';
import { DELIVERY_JOB_OPTIONS } from './queues.js';
import { unlistJob } from './spool.js';
import { clusterPrimaries, isCluster, primaryForKey } from '../redis/connections.js';
import { encodeBody, type BodyCompression } from './body-codec.js';
import type { Trace, TraceEvent } from '../repositories/trace.js';

export interface IncomingMessage {
  queueId: string;
  sender: string;
  /** Recipients grouped by the mailstore that holds their mailbox. */
  recipientsByMailstore: ReadonlyMap<string, readonly string[]>;
  /** The message's bytes; only its last part when `spooled` bytes of it are already in Redis. */
  body: Buffer;
  /** Bytes of the message already appended under each store's `keys.incomingBody` while it arrived. */
  spooled?: number;
  receivedAt: number;
  client: string;
  /** The header Message-ID, when the message has one: for the trace only. */
  messageId?: string;
  /** A replay: the queue id of the delivered message it repeats. */
  replayOf?: string;
}

export interface EnqueueOptions {
  timeoutMs: number;
  /** Replicas that must acknowledge the write (WAIT) before it counts as durable. */
  replicas: number;
  replicaTimeoutMs: number;
  /** Where the message's `accepted` event and index entries go, in the same transaction. */
  trace?: Trace;
  /** How a body that came in one piece is stored (default none); a streamed one is kept as received. */
  compression?: BodyCompression;
  /**
   * The connection the commit (and its WAIT) runs on. Intake's has none of BullMQ's scripts but
   * its job inserts (see internals/bullmq-commit.ts); by default, the queues' own connection.
   */
  connection?: Redis;
}

/**
 * Resolves only when every command of the transaction committed (and, when configured, enough
 * replicas have it). Any other outcome throws, and the SMTP edge answers 451.
 */
export async function enqueueMessage(
  queues: MailQueues,
  message: IncomingMessage,
  options: EnqueueOptions,
): Promise<void> {
  const mailstores = [...message.recipientsByMailstore.keys()];
  const size = messageSize(message);
  const client = options.connection
    ? jobInsertClient(options.connection)
    : await withTimeout(queues.get(mailstores[0]!).getBackend().client, options.timeoutMs, 'connecting to Redis');
  const stored = message.spooled ? undefined : await encodeBody(message.body, options.compression ?? 'none');
  const accepted = acceptedEvent(message, mailstores);
  // One MULTI for the whole message on a single Redis. On a Cluster, one per store (its slot), in
  // parallel: a crash between them leaves one store's part committed and the sender told 451.
  const cluster = isCluster(options.connection ?? queues.connection);
  const groups = cluster ? mailstores.map((mailstore) => [mailstore]) : [mailstores];
  const commits = groups.map(async (group) => {
    // BullMQ's transaction is an ioredis MULTI underneath: our own commands join its job inserts.
    const transaction = client.multi() as StoreTransaction;
    for (const mailstore of group) await addStoreCommit(transaction, queues, message, mailstore, size, stored);
    const traceCommands = cluster
      ? 0
      : (options.trace?.addReception(
          // It is an ioredis MULTI: BullMQ's IRedisTransaction types only its part.
          transaction as unknown as ChainableCommander,
          accepted,
        ) ?? 0);
    const results = await withTimeout(transaction.exec(), options.timeoutMs, 'committing the message');
    // The trace's commands come last; their failure is no reason to refuse the mail.
    return results === null
      ? ['transaction aborted']
      : results
          .slice(0, results.length - traceCommands)
          .filter(([error]) => error)
          .map(([error]) => String(error));
  });
  const settled = await Promise.allSettled(commits);
  const rejected = settled.find((result) => result.status === 'rejected');
  const failed = settled.flatMap((result) => (result.status === 'fulfilled' ? result.value : []));
  if (rejected) {
    // Redis is failing or slow (on a Cluster, maybe one shard of several): what the other stores'
    // commits wrote is removed in the background, so that the sender's 451 does not wait on it.
    void discardPartialMessage(queues, message.queueId, mailstores, size);
    throw rejected.reason;
  }
  if (failed.length > 0) {
    await discardPartialMessage(queues, message.queueId, mailstores, size);
    if (failed.some((error) => error.includes('NOSCRIPT'))) {
      // A restarted server's script cache is empty: fill it, so that the sender's retry commits.
      await loadJobInsertScripts(clusterPrimaries(options.connection ?? queues.connection)).catch(() => undefined);
    }
    throw new HoldfastError('REDIS_TRANSACTION_FAILED', failed.join('; '));
  }
  // On a Cluster the trace's keys are in slots of their own, maybe on a shard that is down: written
  // once the message is, not waited for (never throws; a failure is logged).
  if (cluster) void options.trace?.record([accepted], message.messageId);
  if (options.replicas > 0) await waitForReplicas(options.connection ?? queues.connection, queues, groups, options);
}

/**
 * WAIT on the connection that wrote: on a Cluster, on each shard a store's part went to (the
 * connection ioredis sent it through). The least acknowledged decides.
 */
async function waitForReplicas(
  connection: Redis,
  queues: MailQueues,
  groups: string[][],
  options: EnqueueOptions,
): Promise<void> {
  const primaries = await Promise.all(
    groups.map((group) => primaryForKey(connection, queues.keys.mailstoreBacklog(group[0]!))),
  );
  const acknowledged = await withTimeout(
    Promise.all([...new Set(primaries)].map((primary) => primary.wait(options.replicas, options.replicaTimeoutMs))),
    options.replicaTimeoutMs + options.timeoutMs,
    'waiting for replicas',
  );
  const least = Math.min(...acknowledged);
  if (least < options.replicas) {
    throw new HoldfastError('REDIS_REPLICAS_LAGGING', `${least} of ${options.replicas}`);
  }
}

type StoreTransaction = IRedisTransaction &
  Pick<ChainableCommander, 'set' | 'append' | 'rename' | 'persist' | 'zadd' | 'incrby'>;

/**
 * One store's part of the commit, all in its slot: its job's own copy of the bytes (a Cluster
 * keeps a store's keys on one shard; a message for two stores, rare at an MX, is stored twice),
 * its backlog entry and the job.
 */
async function addStoreCommit(
  transaction: StoreTransaction,
  queues: MailQueues,
  message: IncomingMessage,
  mailstore: string,
  size: number,
  stored: Buffer | undefined,
): Promise<void> {
  const { keys } = queues;
  const bodyKey = keys.jobBody(mailstore, message.queueId);
  if (stored === undefined) {
    // The partial body becomes the job's copy in the same transaction as the job, or not at all.
    const incoming = keys.incomingBody(mailstore, message.queueId);
    if (message.body.length > 0) transaction.append(incoming, message.body);
    transaction.rename(incoming, bodyKey).persist(bodyKey);
  } else {
    transaction.set(bodyKey, stored);
  }
  const data: DeliveryJobData = {
    queueId: message.queueId,
    mailstore,
    sender: message.sender,
    recipients: [...message.recipientsByMailstore.get(mailstore)!],
    failures: [],
    receivedAt: message.receivedAt,
    attempts: 0,
    size,
    client: message.client,
    ownCopy: true,
    ...(message.messageId === undefined ? {} : { messageId: message.messageId }),
    ...(message.replayOf === undefined ? {} : { replayOf: message.replayOf }),
  };
  transaction.zadd(keys.mailstoreBacklog(mailstore), message.receivedAt, message.queueId);
  transaction.incrby(keys.mailstoreBacklogBytes(mailstore), size);
  const job = new Job(
    queues.get(mailstore),
    DELIVERY_JOB_NAME,
    data,
    { ...DELIVERY_JOB_OPTIONS, jobId: message.queueId },
    message.queueId,
  );
  await job.addJob(transaction);
}

function messageSize(message: IncomingMessage): number {
  return (message.spooled ?? 0) + message.body.length;
}

function acceptedEvent(message: IncomingMessage, mailstores: string[]): TraceEvent {
  return {
    at: message.receivedAt,
    queueId: message.queueId,
    kind: 'accepted',
    recipients: [...message.recipientsByMailstore.values()].flat(),
    sender: message.sender,
    ...(message.messageId === undefined ? {} : { messageId: message.messageId }),
    remote: message.client,
    detail: `${messageSize(message)} bytes, for ${mailstores.join(', ')}${message.replayOf === undefined ? '' : `: a replay of ${message.replayOf}`}`,
  };
}

/**
 * A transaction that reported an error may have committed some of its commands (Redis does not
 * roll back). The sender gets 451 and will retry, so remove whatever did land; best effort.
 */
async function discardPartialMessage(
  queues: MailQueues,
  queueId: string,
  mailstores: string[],
  size: number,
): Promise<void> {
  const { keys } = queues;
  try {
    await Promise.all(mailstores.map((mailstore) => queues.get(mailstore).remove(queueId)));
    const unlist = (mailstore: string) =>
      unlistJob(queues.connection, keys, { queueId, mailstore, jobId: queueId, size }, 1000);
    await Promise.all(mailstores.map(unlist));
    const copies = mailstores.flatMap((mailstore) => [
      keys.jobBody(mailstore, queueId),
      keys.incomingBody(mailstore, queueId),
    ]);
    // The trace must not show a message the sender was told to send again (its index entries then find no events).
    await Promise.all([...copies, keys.traceEvents(queueId)].map((key) => queues.connection.del(key)));
  } catch {
    // Redis is failing; a leftover without jobs is never delivered, it only takes space.
  }
}

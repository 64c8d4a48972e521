// Every Redis key name Holdfast uses, in one place (BullMQ's own keys live under bullmqPrefix).

export interface Keys {
  /** Prefix given to BullMQ: its keys are `<prefix>:q:<mailstore>:...`. */
  readonly bullmqPrefix: string;
  /**
   * String: the message bytes of one delivery job, in its store's slot (`{mailstore}`): each store's
   * job has its own copy, so that a store's keys all live on one Redis Cluster shard. Deleted when
   * the job ends.
   */
  jobBody(mailstore: string, jobId: string): string;
  /**
   * String: a large message's bytes while they arrive (appended chunk by chunk during DATA), one per
   * store it is for, renamed to that store's `jobBody` by the commit; expires by itself when its
   * session dies first.
   */
  incomingBody(mailstore: string, queueId: string): string;
  /** Hash: envelope of a message queued before per-job copies (jobs without `ownCopy`); read, never written. */
  legacyMessage(queueId: string): string;
  /** String: the bytes of such a message, shared by its stores' jobs; deleted when the last one ends. */
  legacyBody(queueId: string): string;
  /** Set: the stores whose job for such a message has not ended yet. */
  legacyPending(queueId: string): string;
  /** Hash: operator-managed routing table, recipient address -> mailstore id. */
  readonly routes: string;
  /** String (JSON): the mailstore's policy state (open, held ...), obeyed by every node. */
  mailstoreState(mailstore: string): string;
  /** List (JSON): the intervals during which the mailstore was held, oldest first, capped. */
  mailstorePauses(mailstore: string): string;
  /** List (JSON): the store's guard episodes (start, end, the operator's verdict), capped. */
  mailstoreGuards(mailstore: string): string;
  /**
   * Hash: recent recipient outcomes for the 5xx guard, counted per time bucket (`a:BUCKET` every
   * outcome, `r:BUCKET` refusals); expires when the store is idle.
   */
  mailstoreOutcomes(mailstore: string): string;
  /** String (counter): consecutive failed attempts on the mailstore, for the automatic trip. */
  mailstoreFailures(mailstore: string): string;
  /** String (JSON): the mailstore's last failed attempt, when and what, for the status. */
  mailstoreLastError(mailstore: string): string;
  /**
   * Sorted set (score = arrival time): the store's delivery jobs still to be delivered (waiting,
   * deferred, running, held), by job id; for oldest age, expiring mail and backlog limits
   * without reading any job.
   */
  mailstoreBacklog(mailstore: string): string;
  /** String (counter): the bytes of the messages in the store's backlog. */
  mailstoreBacklogBytes(mailstore: string): string;
  /** Set: job ids of the store's messages held one by one by an operator (parked, not attempted). */
  heldMessages(mailstore: string): string;
  /** String (JSON): what operators changed of the store live: its endpoints, or its mail moved to another store. */
  mailstoreOverrides(mailstore: string): string;
  /** String: held (with an expiry) by the one node moving a moved store's queued mail. */
  mailstoreSweepLock(mailstore: string): string;
  /**
   * Sorted set (score = start time, member = the window as JSON): the mailstore's maintenance
   * windows, waiting or running. Members are changed only by exact member, so nodes starting or
   * dropping one cannot lose another scheduled meanwhile.
   */
  mailstoreWindows(mailstore: string): string;
  /**
   * Sorted set (score = delivery time, member = `entryId:cost`): the store's retained copies of
   * delivered mail, for replay; `cost` is the entry's stored bytes, so dropping needs no read.
   */
  retainedIndex(mailstore: string): string;
  /** String (counter): the stored bytes of the store's retained copies (compressed body + metadata). */
  retainedBytes(mailstore: string): string;
  /**
   * String (milliseconds): the latest delivery time whose retained copy was dropped or never kept;
   * a replay from before it cannot be complete.
   */
  retainedGapUntil(mailstore: string): string;
  /** Hash (`meta` JSON, `body` gzip): one retained delivery; expires with the retention period. */
  retainedEntry(mailstore: string, entryId: string): string;
  /** Stream: the audit trail of state changes and operator actions, newest last. */
  readonly audit: string;
  /** Hash: scratch copy of the routing table during a bulk replace, renamed over `routes`. */
  readonly routesLoading: string;
  /**
   * List (JSON): the message's trace events, oldest first; capped (the first, its reception, is
   * always kept) and expiring `trace.retention` after its last event.
   */
  traceEvents(queueId: string): string;
  /**
   * Sorted set (score = time of its latest event, member = queue id): the messages that carried
   * this Message-ID (without its angle brackets); capped, expiring like the events.
   */
  traceByMessageId(messageId: string): string;
  /**
   * Sorted set (score = time of the latest event naming the recipient, member = queue id): the
   * recipient's traced messages; the address is lower-cased; capped, expiring like the events.
   */
  traceByRecipient(recipient: string): string;
}

export function createKeys(prefix: string): Keys {
  return {
    bullmqPrefix: `${prefix}:q`,
    jobBody: (mailstore, jobId) => `${prefix}:{${mailstore}}:body:${jobId}`,
    incomingBody: (mailstore, queueId) => `${prefix}:{${mailstore}}:incoming:${queueId}`,
    legacyMessage: (queueId) => `${prefix}:msg:${queueId}`,
    legacyBody: (queueId) => `${prefix}:body:${queueId}`,
    legacyPending: (queueId) => `${prefix}:pending:${queueId}`,
    mailstoreState: (mailstore) => `${prefix}:store:${mailstore}`,
    mailstorePauses: (mailstore) => `${prefix}:store:${mailstore}:pauses`,
    mailstoreGuards: (mailstore) => `${prefix}:store:${mailstore}:guards`,
    mailstoreOutcomes: (mailstore) => `${prefix}:store:${mailstore}:outcomes`,
    mailstoreFailures: (mailstore) => `${prefix}:store:${mailstore}:failures`,
    mailstoreLastError: (mailstore) => `${prefix}:store:${mailstore}:last-error`,
    mailstoreBacklog: (mailstore) => `${prefix}:store:${mailstore}:backlog`,
    mailstoreBacklogBytes: (mailstore) => `${prefix}:store:${mailstore}:backlog:bytes`,
    heldMessages: (mailstore) => `${prefix}:store:${mailstore}:held-messages`,
    mailstoreOverrides: (mailstore) => `${prefix}:store:${mailstore}:overrides`,
    mailstoreSweepLock: (mailstore) => `${prefix}:store:${mailstore}:sweep-lock`,
    mailstoreWindows: (mailstore) => `${prefix}:store:${mailstore}:windows`,
    retainedIndex: (mailstore) => `${prefix}:store:${mailstore}:retained`,
    retainedBytes: (mailstore) => `${prefix}:store:${mailstore}:retained:bytes`,
    retainedGapUntil: (mailstore) => `${prefix}:store:${mailstore}:retained:gap-until`,
    // Entry ids are job ids and an attempt number, never ':': entries of two stores cannot collide.
    retainedEntry: (mailstore, entryId) => `${prefix}:retained:${mailstore}:${entryId}`,
    audit: `${prefix}:audit`,
    routes: `${prefix}:routes`,
    routesLoading: `${prefix}:routes:loading`,
    // Queue ids never contain ':': these three families cannot collide.
    traceEvents: (queueId) => `${prefix}:trace:events:${queueId}`,
    traceByMessageId: (messageId) => `${prefix}:trace:message-id:${messageId}`,
    traceByRecipient: (recipient) => `${prefix}:trace:recipient:${recipient.toLowerCase()}`,
  };
}

/**
 * A legacy job's member in its message's pending set: the mailstore id for the job made at
 * reception (job id = queue id), mailstore:jobId for a job made later (rerouted recipients).
 * Mailstore ids never contain ':', so the two cannot collide.
 */
export function pendingMember(mailstore: string, jobId: string, queueId: string): string {
  return jobId === queueId ? mailstore : `${mailstore}:${jobId}`;
}

/** Where a job's message bytes are: its own copy, or (queued before copies) the message's shared body. */
export function bodyKeyOf(
  keys: Keys,
  job: { mailstore: string; jobId: string; queueId: string; ownCopy?: boolean },
): string {
  return job.ownCopy ? keys.jobBody(job.mailstore, job.jobId) : keys.legacyBody(job.queueId);
}

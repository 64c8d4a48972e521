// Every Redis key name Holdfast uses, in one place (BullMQ's own keys live under bullmqPrefix).
//
// A mailstore's keys all carry its hash tag, `{<id>}`: on a Redis Cluster they hash to one slot,
// so that the store's transactions and scripts run on one shard, and stores spread over shards.

/** The key layout this version writes (stored under `Keys.layout`; queue/layout.ts upgrades earlier ones). */
export const KEY_LAYOUT = 2;

export interface Keys {
  /** `redis.prefix`: every key starts with it. */
  readonly prefix: string;
  /** String: the key layout version Redis holds (absent: layout 1, before store hash tags). */
  readonly layout: string;
  /** String: held (with an expiry) by the one node upgrading the key layout. */
  readonly layoutLock: string;
  /** Prefix given to the mailstore's BullMQ queue: its keys are `<prefix>:{<mailstore>}:q:<mailstore>:...`. */
  bullmqPrefix(mailstore: string): string;
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
  /** Stream: the audit trail of operator actions on no one store (and, before layout 2, of all), newest last. */
  readonly audit: string;
  /** Stream: the store's own audit trail (its state changes, maintenance windows), newest last; read merged with `audit`. */
  mailstoreAudit(mailstore: string): string;
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
  const store = (mailstore: string, rest: string) => `${prefix}:{${mailstore}}:${rest}`;
  return {
    prefix,
    layout: `${prefix}:layout`,
    layoutLock: `${prefix}:layout:lock`,
    bullmqPrefix: (mailstore) => store(mailstore, 'q'),
    jobBody: (mailstore, jobId) => store(mailstore, `body:${jobId}`),
    incomingBody: (mailstore, queueId) => store(mailstore, `incoming:${queueId}`),
    legacyMessage: (queueId) => `${prefix}:msg:${queueId}`,
    legacyBody: (queueId) => `${prefix}:body:${queueId}`,
    legacyPending: (queueId) => `${prefix}:pending:${queueId}`,
    mailstoreState: (mailstore) => store(mailstore, 'state'),
    mailstorePauses: (mailstore) => store(mailstore, 'pauses'),
    mailstoreGuards: (mailstore) => store(mailstore, 'guards'),
    mailstoreOutcomes: (mailstore) => store(mailstore, 'outcomes'),
    mailstoreFailures: (mailstore) => store(mailstore, 'failures'),
    mailstoreLastError: (mailstore) => store(mailstore, 'last-error'),
    mailstoreBacklog: (mailstore) => store(mailstore, 'backlog'),
    mailstoreBacklogBytes: (mailstore) => store(mailstore, 'backlog:bytes'),
    heldMessages: (mailstore) => store(mailstore, 'held-messages'),
    mailstoreOverrides: (mailstore) => store(mailstore, 'overrides'),
    mailstoreSweepLock: (mailstore) => store(mailstore, 'sweep-lock'),
    mailstoreWindows: (mailstore) => store(mailstore, 'windows'),
    retainedIndex: (mailstore) => store(mailstore, 'retained'),
    retainedBytes: (mailstore) => store(mailstore, 'retained:bytes'),
    retainedGapUntil: (mailstore) => store(mailstore, 'retained:gap-until'),
    // Entry ids are job ids and an attempt number, never ':'.
    retainedEntry: (mailstore, entryId) => store(mailstore, `copy:${entryId}`),
    audit: `${prefix}:audit`,
    mailstoreAudit: (mailstore) => store(mailstore, 'audit'),
    // One hash tag for the table and its scratch copy (RENAMEd over it); '~' is in no mailstore id.
    routes: `${prefix}:{~routes}`,
    routesLoading: `${prefix}:{~routes}:loading`,
    // Queue ids never contain ':': these three families cannot collide.
    traceEvents: (queueId) => `${prefix}:trace:events:${queueId}`,
    traceByMessageId: (messageId) => `${prefix}:trace:message-id:${messageId}`,
    traceByRecipient: (recipient) => `${prefix}:trace:recipient:${recipient.toLowerCase()}`,
  };
}

/**
 * Layout 1's store keys (before hash tags), for the one-time upgrade: the patterns to scan and
 * each key's layout-2 name (undefined: not one to rename). The routing table gets its hash tag;
 * the other shared keys and messages queued before per-job copies keep their names.
 */
export function layoutOne(prefix: string): {
  bullmqPrefix: string;
  patterns: string[];
  rename(name: string): string | undefined;
} {
  const id = '([A-Za-z0-9_.-]+)';
  const start = `^${prefix.replace(/[{}]/g, '\\$&')}`;
  const state = new RegExp(`${start}:store:${id}$`);
  const storeKey = new RegExp(`${start}:store:${id}:(.+)$`);
  const entry = new RegExp(`${start}:retained:${id}:(.+)$`);
  const queue = new RegExp(`${start}:q:${id}:(.+)$`);
  const routes = new RegExp(`${start}:routes(:loading)?$`);
  return {
    bullmqPrefix: `${prefix}:q`,
    patterns: [`${prefix}:store:*`, `${prefix}:retained:*`, `${prefix}:q:*`, `${prefix}:routes*`],
    rename(name) {
      let match = state.exec(name);
      if (match) return `${prefix}:{${match[1]}}:state`;
      match = storeKey.exec(name);
      if (match) return `${prefix}:{${match[1]}}:${match[2]}`;
      match = entry.exec(name);
      if (match) return `${prefix}:{${match[1]}}:copy:${match[2]}`;
      match = queue.exec(name);
      if (match) return `${prefix}:{${match[1]}}:q:${match[1]}:${match[2]}`;
      match = routes.exec(name);
      if (match) return `${prefix}:{~routes}${match[1] ?? ''}`;
      return undefined;
    },
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

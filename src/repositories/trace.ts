// The message trace: each message's events, found by queue id, Message-ID or recipient, kept for a retention window.
import type { ChainableCommander, Redis } from 'ioredis';
import { withTimeout } from '../errors.js';
import { LuaScript } from '../redis/scripts.js';
import { isCluster, readTogether, type Read } from '../redis/connections.js';
import type { Keys } from '../queue/keys.js';
import { systemClock } from '../clock.js';

export const TRACE_KINDS = [
  'accepted',
  'delivered',
  'deferred',
  'refused',
  'expired',
  'bounced',
  'rerouted',
  'moved',
  'held',
  'released',
  'retried',
  'deleted',
  'replayed',
] as const;

/**
 * accepted: answered 250. delivered, deferred, refused (5xx): a recipient's outcome in one attempt.
 * expired: deferred recipients outlived their lifetime. bounced: a permanent failure was reported
 * (or could not be: `detail` says). rerouted, moved: recipients went to another mailstore's queue
 * (their route changed; an operator moved their store's mail). held ... deleted: operator actions.
 * replayed: an operator queued a retained copy of the delivery again (`detail` names the new queue id).
 */
export type TraceKind = (typeof TRACE_KINDS)[number];

/** One thing that happened to a message; shared with the HTTP API and the CLI. */
export interface TraceEvent {
  /** Milliseconds since the epoch. */
  at: number;
  queueId: string;
  kind: TraceKind;
  /** The mailstore attempted or acted on; for rerouted and moved, the one the recipients went to. */
  mailstore?: string;
  /** The recipients it concerns (every recipient, for accepted). */
  recipients?: string[];
  /** The mailstore's reply as it was sent; when no endpoint answered, what went wrong instead. */
  reply?: string;
  /** Who answered (the endpoint, host:port); for accepted, the sending client's address. */
  remote?: string;
  /** The job's delivery attempt (1, 2 ...). */
  attempt?: number;
  /** deferred: when the recipients will be tried again. */
  retryAt?: number;
  /** accepted: the envelope sender ('' for the null sender). */
  sender?: string;
  /** accepted: the header Message-ID, without its angle brackets. */
  messageId?: string;
  /** Anything else: an operator's reason, why a refusal waits, where a DSN went. */
  detail?: string;
  /** Operator actions: who. */
  by?: string;
}

export interface TraceSettings {
  /** Milliseconds a message's trace is kept after its latest event. */
  retention: number;
  maxEventsPerMessage: number;
  /** How many messages each recipient (and each Message-ID) keeps, the most recently active first. */
  maxMessagesPerRecipient: number;
}

/** A message's new events, and its Message-ID when it has one (its index entry stays alive with them). */
export interface MessageEvents {
  messageId?: string;
  events: readonly TraceEvent[];
  /**
   * When the message's index entries were written (its reception): events soon after it leave
   * them as they are (see INDEX_REFRESH_SHARE). Without it, every write points them at the events.
   */
  indexedAt?: number;
}

/** Appends a message's events, and points its index entries at it when asked. */
const APPEND_SCRIPT = new LuaScript<number>('trace-append');

/**
 * An index key is trimmed to its bound at one write in this many, not at each: a key may hold a
 * few entries more than the bound between trims, and readers never return more than the bound.
 */
const TRIM_EVERY = 16;

/**
 * Events within this share of the retention after the message's reception leave its index entries
 * as the reception wrote them: a message delivered at once costs its index no second write, and
 * is found for the retention after its latest event, give or take this share (an hour at most).
 */
const INDEX_REFRESH_SHARE = 0.01;
const INDEX_REFRESH_MAX_MS = 3600_000;

/** A Message-ID becomes part of a key name: longer ones (not seen in real mail) are not indexed. */
const MAX_MESSAGE_ID_LENGTH = 250;

/** The id inside `<...>` (or the whole value, trimmed); undefined when empty or unreasonably long. */
export function normalizeMessageId(value: string): string | undefined {
  const id = (/<([^<>]*)>/.exec(value)?.[1] ?? value).trim();
  return id.length > 0 && id.length <= MAX_MESSAGE_ID_LENGTH ? id : undefined;
}

export interface TraceOptions {
  now?: () => number;
  /** A write that failed: reported here, never thrown (the trace must not stop mail). */
  onError?: (error: unknown) => void;
  timeoutMs?: number;
}

export class Trace {
  /** The clock the trace trims and reads by (injected in tests); events take their times from it too. */
  readonly now: () => number;
  private readonly onError: (error: unknown) => void;
  private readonly timeoutMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly settings: TraceSettings,
    options: TraceOptions = {},
  ) {
    this.now = options.now ?? systemClock;
    this.onError = options.onError ?? (() => undefined);
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  /**
   * Adds a message's `accepted` event and its index entries to the caller's transaction (the
   * reception MULTI, so the trace exists as soon as the 250 does) as plain commands, the last in
   * the transaction: their results are the trace's, not the message's. Returns how many it added.
   */
  addReception(transaction: ChainableCommander, accepted: TraceEvent): number {
    const { retention, maxMessagesPerRecipient } = this.settings;
    const events = this.keys.traceEvents(accepted.queueId);
    transaction.rpush(events, encode(accepted)).pexpire(events, retention);
    const trim = this.trimNow();
    let added = 2;
    for (const key of this.indexKeys(accepted.messageId, [accepted]).keys()) {
      transaction.zadd(key, 'GT', accepted.at, accepted.queueId).pexpire(key, retention);
      if (trim) transaction.zremrangebyrank(key, 0, -(maxMessagesPerRecipient + 1));
      added += trim ? 3 : 2;
    }
    return added;
  }

  /** Records one message's events in one round trip; never throws (failures go to onError). */
  async record(events: readonly TraceEvent[], messageId?: string, indexedAt?: number): Promise<void> {
    await this.recordAll([{ messageId, events, ...(indexedAt === undefined ? {} : { indexedAt }) }]);
  }

  /** Records several messages' events in one round trip; never throws (failures go to onError). */
  async recordAll(messages: readonly MessageEvents[]): Promise<void> {
    const calls = messages.flatMap(({ messageId, events, indexedAt }) =>
      [...groupByQueueId(events)].map(([queueId, ofMessage]) =>
        this.appendCall(queueId, messageId, ofMessage, indexedAt),
      ),
    );
    if (calls.length === 0) return;
    try {
      if (isCluster(this.redis)) {
        await withTimeout(
          Promise.all(calls.map((call) => this.appendInSlots(call))),
          this.timeoutMs,
          'recording trace events',
        );
        return;
      }
      if (calls.length === 1) {
        // One call (a delivery's events): on the connection's own pipeline, with the job's other
        // writes of this turn of the event loop, rather than a pipeline of its own.
        const [{ keys, args }] = calls as [{ keys: string[]; args: Array<string | number> }];
        await withTimeout(APPEND_SCRIPT.run(this.redis, keys, args), this.timeoutMs, 'recording trace events');
        return;
      }
      const pipeline = this.redis.pipeline();
      for (const { keys, args } of calls) APPEND_SCRIPT.queue(pipeline, this.redis, keys, args);
      const results = await withTimeout(pipeline.exec(), this.timeoutMs, 'recording trace events');
      const failed = (results ?? []).find(([error]) => error);
      if (failed) this.onError(failed[0]);
    } catch (error) {
      this.onError(error);
    }
  }

  /** The message's events, oldest first; empty once its retention has passed (or for an unknown id). */
  async events(queueId: string): Promise<TraceEvent[]> {
    return (await this.eventsOf([queueId])).get(queueId) ?? [];
  }

  /** The events of several messages in one round trip (on a Cluster, one read each: see readTogether). */
  async eventsOf(queueIds: readonly string[]): Promise<Map<string, TraceEvent[]>> {
    const reads = queueIds.map(
      (queueId): Read =>
        (client) =>
          client.lrange(this.keys.traceEvents(queueId), 0, -1),
    );
    const results = await withTimeout(readTogether(this.redis, reads), this.timeoutMs, 'reading traces');
    const found = new Map<string, TraceEvent[]>();
    queueIds.forEach((queueId, index) => {
      const lines = (results[index] as string[] | undefined) ?? [];
      found.set(
        queueId,
        lines.flatMap((line) => decode(line, queueId)),
      );
    });
    return found;
  }

  /** Queue ids of the messages that carried this Message-ID (with or without `<>`), most recently active first. */
  async findByMessageId(messageId: string, limit = this.settings.maxMessagesPerRecipient): Promise<string[]> {
    const id = normalizeMessageId(messageId);
    return id === undefined ? [] : this.newest(this.keys.traceByMessageId(id), limit);
  }

  /** Queue ids of the recipient's messages (any case), most recently active first. */
  async findByRecipient(address: string, limit = 100): Promise<string[]> {
    return this.newest(this.keys.traceByRecipient(address.trim()), limit);
  }

  /**
   * Entries older than the retention linger until their key expires, and a key may hold a few more
   * than its bound between trims: neither is returned.
   */
  private async newest(key: string, limit: number): Promise<string[]> {
    const since = this.now() - this.settings.retention;
    const count = Math.max(0, Math.min(limit, this.settings.maxMessagesPerRecipient));
    return withTimeout(
      this.redis.zrevrangebyscore(key, '+inf', since, 'LIMIT', 0, count),
      this.timeoutMs,
      'reading the trace index',
    );
  }

  /** Whether this write trims the index keys it touches (one in TRIM_EVERY). */
  private trimNow(): boolean {
    return Math.random() < 1 / TRIM_EVERY;
  }

  /**
   * The index keys the events name, each recipient (lower-cased) and the Message-ID, with the time
   * of the latest event among them.
   */
  private indexKeys(messageId: string | undefined, events: readonly TraceEvent[]): Map<string, number> {
    const latest = new Map<string, number>();
    const touch = (key: string, at: number) => latest.set(key, Math.max(at, latest.get(key) ?? at));
    const id = messageId === undefined ? undefined : normalizeMessageId(messageId);
    for (const event of events) {
      for (const recipient of event.recipients ?? []) touch(this.keys.traceByRecipient(recipient), event.at);
      if (id !== undefined) touch(this.keys.traceByMessageId(id), event.at);
    }
    return latest;
  }

  /**
   * On a Cluster, the message's events and each index key are in slots of their own: the script
   * appends the events alone, and each index entry is written by plain commands (each one key).
   */
  private async appendInSlots({ keys, args }: { keys: string[]; args: Array<string | number> }): Promise<void> {
    const [events, ...indexes] = keys as [string, ...string[]];
    const [cap, retention, keep, queueId, trim, ...rest] = args;
    const times = rest.slice(0, indexes.length);
    const writes: Array<Promise<unknown>> = [
      APPEND_SCRIPT.run(this.redis, [events], [cap!, retention!, keep!, queueId!, 0, ...rest.slice(indexes.length)]),
    ];
    for (const [index, key] of indexes.entries()) {
      writes.push(this.redis.zadd(key, 'GT', times[index]!, String(queueId)), this.redis.pexpire(key, retention!));
      if (trim === 1) writes.push(this.redis.zremrangebyrank(key, 0, -(Number(keep) + 1)));
    }
    await Promise.all(writes);
  }

  /** The APPEND_SCRIPT call for one message's events; index keys only when they need the events' time. */
  private appendCall(
    queueId: string,
    messageId: string | undefined,
    events: readonly TraceEvent[],
    indexedAt: number | undefined,
  ): { keys: string[]; args: Array<string | number> } {
    const { retention, maxEventsPerMessage, maxMessagesPerRecipient } = this.settings;
    const refreshAfter = Math.min(retention * INDEX_REFRESH_SHARE, INDEX_REFRESH_MAX_MS);
    const fresh = indexedAt !== undefined && events.every((event) => event.at - indexedAt <= refreshAfter);
    const indexes = fresh ? new Map<string, number>() : this.indexKeys(messageId, events);
    return {
      keys: [this.keys.traceEvents(queueId), ...indexes.keys()],
      args: [
        maxEventsPerMessage,
        retention,
        maxMessagesPerRecipient,
        queueId,
        this.trimNow() ? 1 : 0,
        ...indexes.values(),
        ...events.map(encode),
      ],
    };
  }
}

function groupByQueueId(events: readonly TraceEvent[]): Map<string, TraceEvent[]> {
  const groups = new Map<string, TraceEvent[]>();
  for (const event of events) groups.set(event.queueId, [...(groups.get(event.queueId) ?? []), event]);
  return groups;
}

/** Stored without its queue id: the key holds it, and every byte counts times every message. */
function encode(event: TraceEvent): string {
  return JSON.stringify({ ...event, queueId: undefined });
}

function decode(line: string, queueId: string): TraceEvent[] {
  try {
    const { at, ...rest } = JSON.parse(line) as Omit<TraceEvent, 'queueId'>;
    return [{ at, queueId, ...rest }];
  } catch {
    return []; // not written by Holdfast: skipped rather than failing the whole trace
  }
}

// Pure: what the safety net keeps of a delivery, when it keeps it, and what a replay selects and adds.

/** What is kept of one delivery to a store besides its body: enough to queue it again. */
export interface RetainedDelivery {
  /** The queue id of the message as it was delivered: the replay header names it. */
  queueId: string;
  mailstore: string;
  sender: string;
  /** The recipients this delivery gave the message to, on this store. */
  recipients: string[];
  messageId?: string;
  /** The message's size in bytes, uncompressed. */
  size: number;
  deliveredAt: number;
}

/** The header every replayed message carries first, naming the delivery it repeats. */
export const REPLAY_HEADER = 'X-Holdfast-Replay';

/** The message as replayed: the header prepended, every other byte (Message-ID too) as delivered. */
export function withReplayHeader(body: Buffer, queueId: string): Buffer {
  return Buffer.concat([Buffer.from(`${REPLAY_HEADER}: ${queueId}\r\n`), body]);
}

/**
 * Retention keeps no new copy while Redis memory is within this share of maxmemory below the
 * high-water mark (where intake refuses mail): queued mail keeps that room.
 */
export const RETENTION_MEMORY_MARGIN = 0.2;

/** Whether a copy may be stored at this Redis memory reading (no maxmemory: always). */
export function retentionHasRoom(
  reading: { usedBytes: number; maxBytes: number } | undefined,
  highWater: number,
): boolean {
  if (!reading || reading.maxBytes === 0) return true;
  return reading.usedBytes < reading.maxBytes * Math.max(0.1, highWater - RETENTION_MEMORY_MARGIN);
}

export interface ReplayFilter {
  since: number;
  until: number;
  /** Only this recipient (any case). */
  recipient?: string;
}

/** One retained delivery to replay: its recipients the filter keeps. */
export interface ReplayItem {
  entryId: string;
  delivery: RetainedDelivery;
  recipients: string[];
}

export interface ReplaySummary {
  messages: number;
  bytes: number;
  /** Distinct recipients (lower-cased). */
  users: number;
}

/** The deliveries in the window, each with only the recipients the filter asks for; those with none are left out. */
export function selectForReplay(
  entries: ReadonlyArray<{ entryId: string; delivery: RetainedDelivery }>,
  filter: ReplayFilter,
): ReplayItem[] {
  const wanted = filter.recipient?.trim().toLowerCase();
  return entries.flatMap(({ entryId, delivery }) => {
    if (delivery.deliveredAt < filter.since || delivery.deliveredAt > filter.until) return [];
    const recipients = delivery.recipients.filter((recipient) => !wanted || recipient.toLowerCase() === wanted);
    return recipients.length > 0 ? [{ entryId, delivery, recipients }] : [];
  });
}

export function summarize(items: readonly ReplayItem[]): ReplaySummary {
  const users = new Set(items.flatMap((item) => item.recipients.map((recipient) => recipient.toLowerCase())));
  return {
    messages: items.length,
    bytes: items.reduce((total, item) => total + item.delivery.size, 0),
    users: users.size,
  };
}

/** Why a replay window is refused, or undefined when it is fine. */
export function replayWindowProblem(filter: ReplayFilter, now: number): string | undefined {
  if (filter.since >= filter.until) return 'since must be before until';
  if (filter.since > now) return 'since is in the future: nothing was delivered yet';
  return undefined;
}

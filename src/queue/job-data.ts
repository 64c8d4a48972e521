// The payload of a delivery job: one per (message, mailstore), carrying that store's recipients.

export interface RecipientFailure {
  recipient: string;
  /** The reply that failed it, as the mailstore sent it, or Holdfast's own words for an expiry. */
  reply: string;
  /** Enhanced status code for the DSN, e.g. 5.1.1 or 4.4.7. */
  status: string;
  /** Where the reply came from (host:port), when a mailstore gave it. */
  remote?: string;
  action: 'failed';
}

/** A recipient the store called unknown, kept until the 5xx guard has had its say. */
export interface SuspectFailure extends RecipientFailure {
  recordedAt: number;
}

export interface DeliveryJobData {
  queueId: string;
  mailstore: string;
  /** Envelope sender, '' for the null sender <>. */
  sender: string;
  /** Recipients still to deliver. */
  recipients: string[];
  /** Recipients that failed permanently and still need their bounce sent. */
  failures: RecipientFailure[];
  /** Recipients refused as unknown users, not bounced while the 5xx guard may still trip (absent on old jobs). */
  suspects?: SuspectFailure[];
  /** When Holdfast answered 250, milliseconds since the epoch. */
  receivedAt: number;
  /** Delivery attempts made so far. */
  attempts: number;
  size: number;
  /** The header Message-ID, when the message has one: keeps the message findable by it in the trace. */
  messageId?: string;
  /** Since when an operator has held this message (it is parked until released). */
  heldSince?: number;
  /** Past operator holds of this message: that time does not count toward its lifetime. */
  heldIntervals?: Array<{ from: number; to: number }>;
  /** A replay of a retained delivery: the queue id of the message it repeats (not retained again). */
  replayOf?: string;
  /** The client's address, as the SMTP front saw it (absent on jobs queued before per-job copies). */
  client?: string;
  /**
   * The job has its own copy of the message bytes, in its store's slot (keys.jobBody). Absent on
   * jobs queued before that: they share one body with the message's other jobs (keys.legacyBody),
   * freed by the last of them to end.
   */
  ownCopy?: boolean;
}

export const DELIVERY_JOB_NAME = 'deliver';

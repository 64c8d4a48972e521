// Reads every store's Maildirs and the bounce smarthost, and counts what became of each message the sender sent.
import type { TestDovecot } from '../../helpers/dovecot.js';
import type { ReceivedMessage } from '../../helpers/mailstore.js';
import { ATTEMPT_HEADER, TEST_HEADER, endLine, type SentMessage } from './sender.js';

/** One copy of a test message found in a Maildir. */
export interface FoundCopy {
  token: string;
  attempt: number;
  store: string;
  user: string;
  /** It ends with the message's last line: nothing was cut off. */
  intact: boolean;
}

export interface Figures {
  scenario: string;
  /** Messages the sender had to send. */
  sent: number;
  /** Messages that got 250 after DATA (at the first try or a later one). */
  acknowledged: number;
  /** SMTP transactions the sender tried, retries included. */
  attempts: number;
  /** Messages with a copy in every recipient's mailbox on the recipient's own store. */
  delivered: number;
  /** Acknowledged messages missing from some recipient's mailbox at the end. */
  lost: number;
  /** Extra copies of one SMTP transaction in one mailbox: Holdfast's at-least-once redeliveries. */
  duplicated: number;
  /** Copies found on a store that does not hold that user. */
  misrouted: number;
  /** Delivery status notifications that reached the bounce smarthost (none is right here). */
  bounced: number;
  /** Copies without their last line. */
  damaged: number;
  /** Transactions the sender saw fail (4xx, no answer) whose message was delivered anyway: committed, not lost. */
  unacknowledgedDelivered: number;
  /** The lost and duplicated messages: their tokens and queue ids, whose log records explain them. */
  toExplain: { tokens: string[]; queueIds: string[] };
  details: {
    lost: string[];
    duplicated: string[];
    misrouted: string[];
    damaged: string[];
    unacknowledgedDelivered: string[];
    bounced: string[];
  };
}

/** Every copy of a test message in the users' Maildirs (new/ and cur/) of every store. */
export function findCopies(stores: Readonly<Record<string, TestDovecot>>, users: readonly string[]): FoundCopy[] {
  const copies: FoundCopy[] = [];
  for (const [store, dovecot] of Object.entries(stores)) {
    for (const user of users) {
      for (const text of dovecot.messages(user)) {
        const token = headerValue(text, TEST_HEADER);
        if (token === undefined) continue;
        const attempt = Number(headerValue(text, ATTEMPT_HEADER) ?? 0);
        copies.push({ token, attempt, store, user, intact: text.includes(endLine(token)) });
      }
    }
  }
  return copies;
}

export function countFigures(input: {
  scenario: string;
  messages: readonly SentMessage[];
  copies: readonly FoundCopy[];
  /** The store that holds the user. */
  storeOf: (user: string) => string;
  bounces: readonly ReceivedMessage[];
}): Figures {
  const { scenario, messages, copies, storeOf, bounces } = input;
  const details: Figures['details'] = {
    lost: [],
    duplicated: [],
    misrouted: [],
    damaged: [],
    unacknowledgedDelivered: [],
    bounced: [],
  };
  const byToken = new Map<string, FoundCopy[]>();
  for (const copy of copies) byToken.set(copy.token, [...(byToken.get(copy.token) ?? []), copy]);

  let delivered = 0;
  let duplicated = 0;
  let unacknowledgedDelivered = 0;
  const tokens = new Set<string>();
  const queueIds = new Set<string>();
  for (const message of messages) {
    const found = byToken.get(message.token) ?? [];
    byToken.delete(message.token);
    const inPlace = (recipient: string) =>
      found.filter((copy) => copy.user === recipient && copy.store === storeOf(recipient));
    const missing = message.recipients.filter((recipient) => inPlace(recipient).length === 0);
    const queueIdList = message.attempts.flatMap((attempt) => attempt.queueId ?? []);
    const queueIdText = queueIdList.join(' ');
    const explain = () => {
      tokens.add(message.token);
      for (const queueId of queueIdList) queueIds.add(queueId);
    };
    if (missing.length === 0) delivered++;
    else if (message.acknowledged) {
      details.lost.push(`${message.token} (${queueIdText}) to ${missing.join(', ')}`);
      explain();
    }
    for (const recipient of message.recipients) {
      const perAttempt = new Map<number, number>();
      for (const copy of inPlace(recipient)) perAttempt.set(copy.attempt, (perAttempt.get(copy.attempt) ?? 0) + 1);
      for (const [attempt, count] of perAttempt) {
        if (count > 1) {
          duplicated += count - 1;
          details.duplicated.push(
            `${message.token} (${queueIdText}) attempt ${attempt} to ${recipient}: ${count} copies`,
          );
          explain();
        }
        const sent = message.attempts.find((entry) => entry.number === attempt);
        if (sent && !sent.reply.startsWith('250')) {
          unacknowledgedDelivered++;
          details.unacknowledgedDelivered.push(`${message.token} attempt ${attempt} (${sent.reply || 'no reply'})`);
        }
      }
    }
  }
  const misrouted = copies.filter((copy) => copy.store !== storeOf(copy.user));
  details.misrouted = misrouted.map((copy) => `${copy.token} to ${copy.user} found on ${copy.store}`);
  const damaged = copies.filter((copy) => !copy.intact);
  details.damaged = damaged.map((copy) => `${copy.token} to ${copy.user} on ${copy.store}`);
  // Copies of tokens the sender never sent would be a checker bug: count them as misrouted.
  for (const [token, strays] of byToken)
    details.misrouted.push(`${token}: ${strays.length} copies of an unknown message`);
  details.bounced = bounces.map((bounce) => headerValue(bounce.body, TEST_HEADER) ?? `to ${bounce.to.join(', ')}`);

  return {
    scenario,
    sent: messages.length,
    acknowledged: messages.filter((message) => message.acknowledged).length,
    attempts: messages.reduce((sum, message) => sum + message.attempts.length, 0),
    delivered,
    lost: details.lost.length,
    duplicated,
    misrouted: details.misrouted.length,
    bounced: bounces.length,
    damaged: damaged.length,
    unacknowledgedDelivered,
    toExplain: { tokens: [...tokens], queueIds: [...queueIds] },
    details,
  };
}

/** The one-line report each scenario prints. */
export function summaryLine(figures: Figures): string {
  const { scenario, sent, acknowledged, delivered, lost, duplicated, misrouted, bounced } = figures;
  return (
    `[outage] ${scenario}: sent ${sent}, acknowledged ${acknowledged}, delivered ${delivered}, lost ${lost}, ` +
    `duplicated ${duplicated}, misrouted ${misrouted}, bounced ${bounced}, ` +
    `unacknowledged but delivered ${figures.unacknowledgedDelivered}, damaged ${figures.damaged}, ` +
    `SMTP attempts ${figures.attempts}`
  );
}

function headerValue(text: string, name: string): string | undefined {
  const match = new RegExp(`^${name}:[ \\t]*(\\S+)`, 'mi').exec(text);
  return match?.[1];
}

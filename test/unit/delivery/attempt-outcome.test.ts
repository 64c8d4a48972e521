// Unit tests for how one attempt's replies become delivered, deferred and refused recipients.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { recordAttempt, type AttemptFacts } from '../../../src/delivery/attempt-outcome.js';
import { RunTrace } from '../../../src/delivery/run-trace.js';
import type { DeliveryJobData } from '../../../src/queue/job-data.js';

const log = pino({ level: 'silent' });
const guardOff = { enabled: false, threshold: 5, ratio: 0.5, windowMs: 60_000 };

function job(recipients: string[]): DeliveryJobData {
  return {
    queueId: 'Q1',
    mailstore: 'cyrus',
    sender: 'sender@remote.test',
    recipients,
    failures: [],
    receivedAt: 0,
    attempts: 1,
    size: 100,
  };
}

function attempt(data: DeliveryJobData, replies: Array<[string, string]>, facts: Partial<AttemptFacts> = {}) {
  const trace = new RunTrace(data, () => 1000);
  const result = {
    kind: 'answered' as const,
    remote: '127.0.0.1:24',
    replies: replies.map(([recipient, reply]) => ({ recipient, reply })),
  };
  return recordAttempt(data, result, log, { elapsedMs: 1, guard: guardOff, now: 1000, trace, ...facts });
}

describe("an attempt's replies", () => {
  it('fail a recipient whose mailbox is full for good (552 5.2.2) by default, as Postfix does', () => {
    const data = job(['full@example.com']);
    const outcome = attempt(data, [['full@example.com', '552 5.2.2 Over quota']]);
    expect(outcome.transient).toEqual([]);
    expect(outcome.outcomes).toEqual({ total: 1, refused: 1 });
    expect(data.failures).toEqual([expect.objectContaining({ recipient: 'full@example.com', status: '5.2.2' })]);
  });

  it('keep a recipient whose mailbox is full for good, to try again, when the store says mailboxFull: defer', () => {
    const data = job(['full@example.com', 'ok@example.com']);
    const outcome = attempt(
      data,
      [
        ['full@example.com', '552 5.2.2 Over quota'],
        ['ok@example.com', '250 2.1.5 Ok'],
      ],
      { mailboxFull: 'defer' },
    );
    expect(outcome.delivered).toEqual(['ok@example.com']);
    expect(outcome.transient).toEqual([{ recipient: 'full@example.com', reply: '552 5.2.2 Over quota' }]);
    expect(outcome.outcomes).toEqual({ total: 2, refused: 0 });
    expect(data.failures).toEqual([]);
  });

  it('still fail other permanent refusals when the store defers full mailboxes', () => {
    const data = job(['gone@example.com']);
    const outcome = attempt(data, [['gone@example.com', '550 5.1.1 User unknown']], { mailboxFull: 'defer' });
    expect(outcome.transient).toEqual([]);
    expect(data.failures).toHaveLength(1);
  });

  it('defer a mailbox that is full for now (452 4.2.2) whatever the setting', () => {
    for (const mailboxFull of ['bounce', 'defer'] as const) {
      const data = job(['full@example.com']);
      const outcome = attempt(data, [['full@example.com', '452 4.2.2 Over quota']], { mailboxFull });
      expect(outcome.transient).toHaveLength(1);
      expect(data.failures).toEqual([]);
    }
  });
});

// The outage suite's checker: how it counts lost, duplicated, misrouted, damaged and bounced mail.
import { describe, expect, it } from 'vitest';
import { countFigures, type FoundCopy } from './harness/checker.js';
import type { SentMessage } from './harness/sender.js';

const storeOf = (user: string) => (user.startsWith('a') ? 'store1' : 'store2');
const sent = (token: string, recipients: string[], replies: string[]): SentMessage => ({
  token,
  recipients,
  attempts: replies.map((reply, index) => ({ number: index + 1, mx: 'node1', reply })),
  acknowledged: replies.some((reply) => reply.startsWith('250')),
});
const copy = (token: string, user: string, store: string, attempt = 1, intact = true): FoundCopy => ({
  token,
  user,
  store,
  attempt,
  intact,
});

describe('the outage checker', () => {
  it('counts each kind of harm once, and an unacknowledged message that arrived as committed, not lost', () => {
    const messages = [
      sent('fine', ['alice@x'], ['250 ok']),
      sent('lost', ['alice@x', 'bob@x'], ['250 ok']),
      sent('twice', ['bob@x'], ['250 ok']),
      sent('wrong-store', ['alice@x'], ['250 ok']),
      sent('retried', ['bob@x'], ['451 4.3.0 try later', '250 ok']),
      sent('never-taken', ['bob@x'], ['451 4.3.0 try later']),
      sent('cut', ['alice@x'], ['250 ok']),
    ];
    const copies = [
      copy('fine', 'alice@x', 'store1'),
      copy('lost', 'alice@x', 'store1'),
      copy('twice', 'bob@x', 'store2'),
      copy('twice', 'bob@x', 'store2'),
      copy('wrong-store', 'alice@x', 'store2'),
      copy('retried', 'bob@x', 'store2', 1),
      copy('retried', 'bob@x', 'store2', 2),
      copy('cut', 'alice@x', 'store1', 1, false),
    ];
    const bounces = [{ from: '', to: ['sender@remote.test'], body: 'X-Holdfast-Test: fine\r\n' }];

    const figures = countFigures({ scenario: 'check', messages, copies, storeOf, bounces });

    expect(figures).toMatchObject({
      sent: 7,
      acknowledged: 6,
      attempts: 8,
      delivered: 4, // fine, twice, retried, and cut (counted as damaged)
      lost: 2,
      duplicated: 1,
      misrouted: 1,
      bounced: 1,
      damaged: 1,
      unacknowledgedDelivered: 1,
    });
    expect(figures.details.lost).toEqual(['lost () to bob@x', 'wrong-store () to alice@x']);
    expect(figures.details.bounced).toEqual(['fine']);
  });
});

// Unit tests for selecting queued messages by recipient, sender and age.
import { describe, expect, it } from 'vitest';
import { describeFilter } from '../../../src/admin/api.js';
import { matches } from '../../../src/admin/messages.js';
import type { QueuedMessage } from '../../../src/queue/message-controls.js';

const NOW = 1_800_000_000_000;
const message: QueuedMessage = {
  queueId: 'Q',
  jobId: 'Q',
  mailstore: 'store2',
  sender: 'Spam@Bad.test',
  recipients: ['bob@example.com', 'Dave@example.com'],
  receivedAt: NOW - 3_600_000,
  size: 100,
  state: 'waiting',
};

describe('selecting queued messages', () => {
  it('matches recipients and senders case-insensitively', () => {
    expect(matches(message, { recipient: 'dave@EXAMPLE.com' }, NOW)).toBe(true);
    expect(matches(message, { recipient: 'carol@example.com' }, NOW)).toBe(false);
    expect(matches(message, { sender: 'spam@bad.test' }, NOW)).toBe(true);
    expect(matches(message, { sender: '' }, NOW)).toBe(false);
  });

  it('selects by age', () => {
    expect(matches(message, { olderThanMs: 1_800_000 }, NOW)).toBe(true);
    expect(matches(message, { olderThanMs: 7_200_000 }, NOW)).toBe(false);
  });

  it('describes a selection the way the audit trail records it', () => {
    expect(describeFilter({ mailstore: 'store2', sender: 'x@y', recipient: undefined })).toBe(
      'mailstore=store2 sender=x@y',
    );
    expect(describeFilter({})).toBe('all');
  });
});

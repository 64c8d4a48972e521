// Unit tests for what a replay selects and adds, and when retention keeps a copy: pure functions.
import { describe, expect, it } from 'vitest';
import {
  replayWindowProblem,
  retentionHasRoom,
  selectForReplay,
  summarize,
  withReplayHeader,
  type RetainedDelivery,
} from '../../../src/policy/retention.js';

const delivery = (queueId: string, deliveredAt: number, recipients: string[], size = 100): RetainedDelivery => ({
  queueId,
  mailstore: 'store1',
  sender: 'sender@remote.test',
  recipients,
  size,
  deliveredAt,
});

const entries = [
  { entryId: 'A.1', delivery: delivery('A', 1000, ['alice@example.com']) },
  { entryId: 'B.1', delivery: delivery('B', 2000, ['Alice@example.com', 'carol@example.com'], 250) },
  { entryId: 'C.1', delivery: delivery('C', 3000, ['carol@example.com']) },
];

describe('a replay selection', () => {
  it('takes the deliveries within the window, both ends included', () => {
    const items = selectForReplay(entries, { since: 2000, until: 3000 });
    expect(items.map((item) => item.entryId)).toEqual(['B.1', 'C.1']);
    expect(summarize(items)).toEqual({ messages: 2, bytes: 350, users: 2 });
  });

  it('keeps only the recipient asked for, in any case, and leaves out deliveries without it', () => {
    const items = selectForReplay(entries, { since: 0, until: 5000, recipient: 'ALICE@example.com' });
    expect(items.map((item) => [item.entryId, item.recipients])).toEqual([
      ['A.1', ['alice@example.com']],
      ['B.1', ['Alice@example.com']],
    ]);
    expect(summarize(items).users).toBe(1);
  });

  it('refuses a window that ends before it starts or starts in the future', () => {
    expect(replayWindowProblem({ since: 2000, until: 1000 }, 5000)).toBe('since must be before until');
    expect(replayWindowProblem({ since: 6000, until: 7000 }, 5000)).toMatch(/future/);
    expect(replayWindowProblem({ since: 1000, until: 5000 }, 5000)).toBeUndefined();
  });
});

describe('a replayed message', () => {
  it('starts with the X-Holdfast-Replay header and keeps every byte that was delivered', () => {
    const body = Buffer.from('Received: by mx\r\nMessage-ID: <m@x>\r\n\r\nHi.\r\n');
    const replayed = withReplayHeader(body, 'Q1');
    expect(replayed.toString()).toBe(`X-Holdfast-Replay: Q1\r\n${body.toString()}`);
  });
});

describe('retention under Redis memory pressure', () => {
  it('keeps copies below the high-water mark less 20 points of maxmemory, and always without a maxmemory', () => {
    expect(retentionHasRoom({ usedBytes: 69, maxBytes: 100 }, 0.9)).toBe(true);
    expect(retentionHasRoom({ usedBytes: 70, maxBytes: 100 }, 0.9)).toBe(false);
    expect(retentionHasRoom({ usedBytes: 10 ** 12, maxBytes: 0 }, 0.9)).toBe(true);
    expect(retentionHasRoom(undefined, 0.9)).toBe(true);
  });
});

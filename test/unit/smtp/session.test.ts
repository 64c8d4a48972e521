// Unit tests for an SMTP connection's state: its transaction clock (the slow-loris guard: started,
// paused while Holdfast decides, restarted, ended) and its open transaction.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SmtpSessions } from '../../../src/smtp/session.js';

describe('SmtpSessions', () => {
  let expired: string[];
  let sessions: SmtpSessions;

  beforeEach(() => {
    vi.useFakeTimers();
    expired = [];
    sessions = new SmtpSessions(1000, (session) => expired.push(session.id));
  });

  afterEach(() => vi.useRealTimers());

  it('expires a session that has not finished a message within the limit', () => {
    sessions.open('a', '192.0.2.1');
    vi.advanceTimersByTime(999);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['a']);
  });

  it('gives a session the whole limit again after each message', () => {
    const session = sessions.open('a', '192.0.2.1');
    vi.advanceTimersByTime(900);
    session.startClock();
    vi.advanceTimersByTime(900);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(expired).toEqual(['a']);
  });

  it('never expires a session while its message is being decided on', () => {
    const session = sessions.open('a', '192.0.2.1');
    session.pauseClock();
    vi.advanceTimersByTime(10_000);
    expect(expired).toEqual([]);
    session.startClock();
    vi.advanceTimersByTime(1000);
    expect(expired).toEqual(['a']);
  });

  it('does not start the clock again for a session that closed while its message was decided on', () => {
    const session = sessions.open('a', '192.0.2.1');
    session.pauseClock();
    expect(sessions.close('a')).toBe(session);
    session.startClock();
    vi.advanceTimersByTime(10_000);
    expect(expired).toEqual([]);
    expect(sessions.get('a')).toBeUndefined();
  });

  it('forgets a closed session and its transaction', () => {
    const a = sessions.open('a', '192.0.2.1');
    a.transaction = { queueId: 'Q', sender: 's@example.org', recipientsByMailstore: new Map(), recipientCount: 0 };
    sessions.close('a');
    expect(sessions.get('a')).toBeUndefined();
    expect(a.transaction).toBeUndefined();
  });

  it('says a connection refused at connect was never open', () => {
    expect(sessions.close('never')).toBeUndefined();
  });
});

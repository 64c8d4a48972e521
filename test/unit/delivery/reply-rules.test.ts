// Unit tests for the reply classification table: what each mailstore reply means for a recipient.
import { describe, expect, it } from 'vitest';
import { classifyReply, type Classification } from '../../../src/delivery/reply-rules.js';

describe('classifyReply', () => {
  it.each<[string, Classification]>([
    ['250 2.0.0 Ok', { action: 'delivered', category: 'accepted', status: '2.0.0' }],
    ['250 Ok', { action: 'delivered', category: 'accepted', status: '2.0.0' }],
    ['450 4.2.0 try later', { action: 'transient', category: 'temporary', status: '4.2.0' }],
    ['452 4.2.2 Mailbox full', { action: 'transient', category: 'mailbox-full', status: '4.2.2' }],
    ['452 Mailbox is full', { action: 'transient', category: 'mailbox-full', status: '4.0.0' }],
    ['451 user overquota, try later', { action: 'transient', category: 'mailbox-full', status: '4.0.0' }],
    ['421 4.4.2 shutting down', { action: 'transient', category: 'service-unavailable', status: '4.4.2' }],
    ['550 5.1.1 <bob@x> User unknown', { action: 'permanent', category: 'user-unknown', status: '5.1.1' }],
    ['550-5.1.1 <bob@x> User unknown', { action: 'permanent', category: 'user-unknown', status: '5.1.1' }],
    ['550 No such user here', { action: 'permanent', category: 'user-unknown', status: '5.0.0' }],
    ['550 5.0.0 Mailbox not found', { action: 'permanent', category: 'user-unknown', status: '5.0.0' }],
    ['552 5.2.2 over quota', { action: 'permanent', category: 'mailbox-full', status: '5.2.2' }],
    ['552 Quota exceeded', { action: 'permanent', category: 'mailbox-full', status: '5.0.0' }],
    ['552 5.3.4 Message too big', { action: 'permanent', category: 'message-too-big', status: '5.3.4' }],
    ['552 5.2.3 Message exceeds limit', { action: 'permanent', category: 'message-too-big', status: '5.2.3' }],
    ['554 5.7.1 rejected', { action: 'permanent', category: 'policy', status: '5.7.1' }],
    ['554 5.6.0 bad content', { action: 'permanent', category: 'permanent', status: '5.6.0' }],
    ['554 Transaction failed', { action: 'permanent', category: 'permanent', status: '5.0.0' }],
    ['430 Authentication required', { action: 'transient', category: 'auth-required', status: '4.0.0' }],
    ['530 5.7.0 Authentication required', { action: 'transient', category: 'auth-required', status: '5.7.0' }],
    ['530 Error: authentication Required', { action: 'transient', category: 'auth-required', status: '5.0.0' }],
    ['530 5.7.0 Must issue a STARTTLS command first', { action: 'permanent', category: 'policy', status: '5.7.0' }],
    // Cyrus IMAP 3.6's lmtpd, as it answers (quota replies as seen from a real instance).
    ['452 4.2.2 Over quota SESSIONID=<c-1-2>', { action: 'transient', category: 'mailbox-full', status: '4.2.2' }],
    ['552 5.2.2 Over quota SESSIONID=<c-1-2>', { action: 'permanent', category: 'mailbox-full', status: '5.2.2' }],
    [
      '550-Mailbox unknown.  Either there is no mailbox associated with this\n550-name or you do not have authorization to see it.\n550 5.1.1 User unknown',
      { action: 'permanent', category: 'user-unknown', status: '5.1.1' },
    ],
    ['550-Sorry,\r\n550 no such user here', { action: 'permanent', category: 'user-unknown', status: '5.0.0' }],
    [
      '452-4.2.2 The mailbox\n452 4.2.2 is over quota',
      { action: 'transient', category: 'mailbox-full', status: '4.2.2' },
    ],
    ['451 4.2.0 Mailbox is locked', { action: 'transient', category: 'temporary', status: '4.2.0' }],
    ['451 4.4.3 System I/O error', { action: 'transient', category: 'temporary', status: '4.4.3' }],
    ['421 4.3.0 lmtpd: Fatal error: busy', { action: 'transient', category: 'service-unavailable', status: '4.3.0' }],
    ['', { action: 'transient', category: 'unrecognised', status: '4.0.0' }],
    ['garbage', { action: 'transient', category: 'unrecognised', status: '4.0.0' }],
    ['5.1.1 User unknown', { action: 'transient', category: 'unrecognised', status: '4.0.0' }],
    ['2500 not a code', { action: 'transient', category: 'unrecognised', status: '4.0.0' }],
    ['650 out of range', { action: 'transient', category: 'unrecognised', status: '4.0.0' }],
  ])('classifies %j', (reply, expected) => {
    expect(classifyReply(reply)).toEqual(expected);
  });

  it('ignores surrounding whitespace and line ends', () => {
    expect(classifyReply('  550 5.1.1 User unknown\r\n')).toEqual({
      action: 'permanent',
      category: 'user-unknown',
      status: '5.1.1',
    });
  });

  it('takes the enhanced code only right after the basic code', () => {
    expect(classifyReply('550 rejected, see 5.7.1 in the docs').status).toBe('5.0.0');
  });

  it('does not take a user-unknown code with more digits for one', () => {
    expect(classifyReply('550 5.1.10 Recipient address has null MX')).toEqual({
      action: 'permanent',
      category: 'permanent',
      status: '5.1.10',
    });
  });
});

describe('classifyReply with a contradicting enhanced code', () => {
  it('derives the status from the basic code when the enhanced class disagrees', () => {
    expect(classifyReply('550 4.2.2 full')).toMatchObject({ action: 'permanent', status: '5.0.0' });
  });
});

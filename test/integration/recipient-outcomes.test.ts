// Scenario: one LMTP transaction answers 250, 450 and 550 for three recipients.
import { describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import { createKeys } from '../../src/queue/keys.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

describe('per-recipient outcomes of an LMTP delivery', () => {
  const fixture = withRelay({
    stores: ['store1'],
    smarthost: true,
    config: {
      routing: { users: { 'bob@example.com': 'store1' } },
      // A lone unknown user bounces once the guard's window shows no burst: keep it short here.
      mailstores: { store1: { guard: { window: '1s' } } },
    },
  });
  const { store1: store } = fixture.stores;
  let deferredOnce = false;
  store.replyFor = (recipient) => {
    if (recipient === 'carol@example.com') return '550 5.1.1 <carol@example.com>: User unknown';
    if (recipient === 'bob@example.com' && !deferredOnce) {
      deferredOnce = true;
      return '450 4.2.0 Mailbox temporarily locked';
    }
    return '250';
  };

  it('delivers the 250, retries and then delivers the 450, and bounces the 550', async () => {
    const { relay, smarthost } = fixture;
    const reply = await send(
      relay.port,
      'sender@remote.test',
      ['alice@example.com', 'bob@example.com', 'carol@example.com'],
      'three',
    );
    const queueId = queueIdOf(reply);
    await waitFor(() => store.delivered('bob@example.com').length === 1 && smarthost.messages.length === 1, 20_000);

    expect(store.delivered('alice@example.com')).toHaveLength(1);
    expect(store.delivered('carol@example.com')).toHaveLength(0);
    // The retry carried only the deferred recipient.
    expect(store.replies.map((entry) => entry.recipient)).toEqual([
      'alice@example.com',
      'bob@example.com',
      'carol@example.com',
      'bob@example.com',
    ]);

    const bounce = smarthost.messages[0]!;
    expect(bounce.from).toBe('');
    expect(bounce.to).toEqual(['sender@remote.test']);
    const dsn = await simpleParser(bounce.body);
    expect(dsn.headers.get('content-type')).toMatchObject({
      value: 'multipart/report',
      params: { 'report-type': 'delivery-status' },
    });
    // mailparser reads message/delivery-status as text: find that part in the raw report too.
    const statusPart = /Content-Type: message\/delivery-status\r\n\r\n([\s\S]*?)\r\n--holdfast-/.exec(bounce.body);
    expect(statusPart).not.toBeNull();
    const statusText = statusPart![1]!;
    expect(dsn.text).toContain('<carol@example.com>: 550 5.1.1');
    expect(statusText).toContain('Final-Recipient: rfc822; carol@example.com');
    expect(statusText).toContain('Status: 5.1.1');
    expect(statusText).toContain('Diagnostic-Code: smtp; 550 5.1.1 <carol@example.com>: User unknown');
    expect(statusText).not.toContain('alice@example.com');
    const headers = dsn.attachments.find((part) => part.contentType === 'text/rfc822-headers');
    expect(headers?.content.toString('utf8')).toContain('Subject: three');
    expect(relay.events('Bounce')[0]).toMatchObject({ queueId, recipients: ['carol@example.com'] });
    const [first, second] = relay.events('Attempt');
    expect(first).toMatchObject({ queueId, mailstore: 'store1', attempt: 1 });
    expect(first!.replies).toEqual([
      { recipient: 'alice@example.com', reply: expect.stringMatching(/^250/) as string },
      { recipient: 'bob@example.com', reply: '450 4.2.0 Mailbox temporarily locked' },
      { recipient: 'carol@example.com', reply: '550 5.1.1 <carol@example.com>: User unknown' },
    ]);
    expect(second).toMatchObject({ queueId, attempt: 2, recipients: ['bob@example.com'] });
    expect(relay.events('PermanentFailure')).toMatchObject([
      { recipient: 'carol@example.com', category: 'user-unknown' },
    ]);
  });

  it('never sends a bounce to the null sender', async () => {
    const { relay, smarthost } = fixture;
    const before = smarthost.messages.length;
    await send(relay.port, '', ['carol@example.com'], 'from null sender');
    await waitFor(() => relay.events('BounceDiscarded').length === 1);
    expect(smarthost.messages.length).toBe(before);
  });
});

describe('a message that outlives its lifetime', () => {
  const fixture = withRelay({
    stores: ['store1'],
    down: ['store1'], // nothing listens there: every attempt fails
    smarthost: true,
    config: { mailstores: { store1: { lifetime: '3s', retry: '1s', trip: { enabled: false } } } },
  });

  it('is retried until its lifetime ends, then expires with a 5.4.7 DSN and leaves nothing but its trace', async () => {
    const { relay, redis, smarthost } = fixture;
    const queueId = queueIdOf(await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'too late'));
    await waitFor(() => smarthost.messages.length === 1, 15_000, 'the expiry DSN');
    expect(relay.events('Attempt').length).toBeGreaterThanOrEqual(2);
    expect(relay.events('Expiration')[0]).toMatchObject({ queueId, recipients: ['alice@example.com'] });
    const dsn = smarthost.messages[0]!.body;
    expect(dsn).toContain('Status: 5.4.7');
    expect(dsn).toMatch(/Diagnostic-Code: smtp; message expired after 0\.0 days in queue; last reply: .*ECONNREFUSED/);
    const traced = async () => (await relay.app.traceAdmin!.lookup({ queueId }))[0]?.events ?? [];
    await waitFor(async () => (await traced()).some((event) => event.kind === 'bounced'), 5000, 'the bounce traced');
    expect((await traced()).map((event) => event.kind)).toEqual([
      'accepted',
      ...Array<string>(relay.events('Attempt').length).fill('deferred'),
      'expired',
      'bounced',
    ]);
    // BullMQ's record of the job and the message's trace (kept for its retention) are all that stay.
    const keys = createKeys(relay.config.redis.prefix);
    const kept = (key: string) =>
      key.startsWith(`${keys.bullmqPrefix('store1')}:`) || key === keys.traceEvents(queueId);
    await waitFor(async () => (await redis.client.keys(`*${queueId}*`)).every(kept));
  });
});

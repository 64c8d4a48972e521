// Unit tests for delivery status notifications: the RFC 3464 report, read back with mailparser.
import { simpleParser, type HeaderValue, type StructuredHeader } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { buildDsn, headerBlock, type DsnInput } from '../../../src/delivery/dsn.js';

const ORIGINAL = Buffer.from(
  [
    'Received: from client.example.org by mx.example.net',
    'From: Sender <sender@example.org>',
    'To: bob@example.com',
    'Subject: Quarterly figures',
    '',
    'The body is not part of the report.',
    '',
  ].join('\r\n'),
);

function dsnInput(overrides: Partial<DsnInput> = {}): DsnInput {
  return {
    reportingHost: 'mx.example.net',
    from: 'MAILER-DAEMON@mx.example.net',
    to: 'sender@example.org',
    queueId: '1KQ7ZD3TBX4H2MPV9',
    arrivalDate: new Date(Date.UTC(2026, 10, 23, 10, 0, 0)),
    date: new Date(Date.UTC(2026, 10, 23, 10, 5, 0)),
    failures: [
      {
        recipient: 'bob@example.com',
        reply: '550 5.1.1 <bob@example.com> User unknown',
        status: '5.1.1',
        remote: '10.0.0.5:24',
        action: 'failed',
      },
    ],
    original: ORIGINAL,
    ...overrides,
  };
}

function isStructured(value: HeaderValue | undefined): value is StructuredHeader {
  return typeof value === 'object' && value !== null && 'value' in value && 'params' in value;
}

/** The body of the MIME part with the given content type, found by the boundary in the top header. */
async function partBody(dsn: Buffer, contentType: string): Promise<string> {
  const header = (await simpleParser(dsn)).headers.get('content-type');
  if (!isStructured(header)) throw new Error('no structured Content-Type');
  const boundary = header.params.boundary;
  if (!boundary) throw new Error('no boundary');
  const part = dsn
    .toString('utf8')
    .split(`\r\n--${boundary}`)
    .find((candidate) => candidate.startsWith(`\r\nContent-Type: ${contentType}\r\n`));
  if (part === undefined) throw new Error(`no ${contentType} part`);
  return part.slice(part.indexOf('\r\n\r\n') + 4);
}

describe('buildDsn', () => {
  it('is a multipart/report of report-type delivery-status', async () => {
    const parsed = await simpleParser(buildDsn(dsnInput()));
    const contentType = parsed.headers.get('content-type');
    expect(isStructured(contentType)).toBe(true);
    if (!isStructured(contentType)) return;
    expect(contentType.value).toBe('multipart/report');
    expect(contentType.params['report-type']).toBe('delivery-status');
  });

  it('is addressed from the mail system to the original sender', async () => {
    const parsed = await simpleParser(buildDsn(dsnInput()));
    expect(parsed.from?.value[0]?.address).toBe('MAILER-DAEMON@mx.example.net');
    expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.value[0]?.address : undefined).toBe('sender@example.org');
    expect(parsed.subject).toBe('Undelivered Mail Returned to Sender');
    expect(parsed.headers.get('auto-submitted')).toBe('auto-replied');
    const sent = Date.UTC(2026, 10, 23, 10, 5, 0);
    expect(parsed.messageId).toBe(`<1KQ7ZD3TBX4H2MPV9.${sent}.dsn@mx.example.net>`);
  });

  it('reports each failed recipient in the delivery-status part', async () => {
    const status = await partBody(buildDsn(dsnInput()), 'message/delivery-status');
    expect(status).toContain('Reporting-MTA: dns; mx.example.net\r\n');
    expect(status).toContain('Arrival-Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n');
    expect(status).toContain('Final-Recipient: rfc822; bob@example.com\r\n');
    expect(status).toContain('Action: failed\r\n');
    expect(status).toContain('Status: 5.1.1\r\n');
    expect(status).toContain('Remote-MTA: dns; 10.0.0.5\r\n');
    expect(status).toContain('Diagnostic-Code: smtp; 550 5.1.1 <bob@example.com> User unknown\r\n');
    expect(status).toContain('Last-Attempt-Date: Mon, 23 Nov 2026 10:05:00 +0000\r\n');
  });

  it('separates the per-recipient fields of several recipients with blank lines', async () => {
    const failures = [
      { recipient: 'bob@example.com', reply: '550 5.1.1 User unknown', status: '5.1.1', action: 'failed' as const },
      { recipient: 'carol@example.com', reply: '552 5.2.2 over quota', status: '5.2.2', action: 'failed' as const },
    ];
    const status = await partBody(buildDsn(dsnInput({ failures })), 'message/delivery-status');
    const groups = status.split('\r\n\r\n');
    expect(groups[1]).toMatch(/^Final-Recipient: rfc822; bob@example.com\r\n/);
    expect(groups[2]).toMatch(/^Final-Recipient: rfc822; carol@example.com\r\n/);
    expect(groups[2]).toContain('Status: 5.2.2');
  });

  it('leaves out Remote-MTA when no mailstore gave the reply', async () => {
    const failures = [{ recipient: 'bob@example.com', reply: 'expired', status: '4.4.7', action: 'failed' as const }];
    const status = await partBody(buildDsn(dsnInput({ failures })), 'message/delivery-status');
    expect(status).not.toContain('Remote-MTA');
  });

  it('reports an expiry (4.4.7) as the permanent failure 5.4.7', async () => {
    const failures = [
      {
        recipient: 'bob@example.com',
        reply: '451 4.4.7 message expired after 5 days',
        status: '4.4.7',
        action: 'failed' as const,
      },
    ];
    const dsn = buildDsn(dsnInput({ failures }));
    const status = await partBody(dsn, 'message/delivery-status');
    expect(status).toContain('Status: 5.4.7\r\n');
    expect((await simpleParser(dsn)).text).toContain('before it expired');
  });

  it('puts a multi-line reply on one line', async () => {
    const failures = [
      {
        recipient: 'bob@example.com',
        reply: '550-5.1.1 first line\r\n550 5.1.1 second line',
        status: '5.1.1',
        action: 'failed' as const,
      },
    ];
    const status = await partBody(buildDsn(dsnInput({ failures })), 'message/delivery-status');
    expect(status).toContain('Diagnostic-Code: smtp; 550-5.1.1 first line 550 5.1.1 second line\r\n');
  });

  it('returns the original headers, without the body, in a text/rfc822-headers part', async () => {
    const parsed = await simpleParser(buildDsn(dsnInput()));
    const headers = parsed.attachments.find((attachment) => attachment.contentType === 'text/rfc822-headers');
    expect(headers?.content.toString('utf8')).toContain('Subject: Quarterly figures\r\n');
    expect(headers?.content.toString('utf8')).not.toContain('The body is not part of the report.');
  });

  it('names each failed recipient and its reply in the human-readable part', async () => {
    const parsed = await simpleParser(buildDsn(dsnInput()));
    expect(parsed.text).toContain('<bob@example.com>: 550 5.1.1 <bob@example.com> User unknown');
    expect(parsed.text).toContain('This is the mail system at host mx.example.net.');
  });
});

describe('headerBlock', () => {
  it('returns no headers for a message that starts with the empty line', () => {
    expect(headerBlock(Buffer.from('\r\nbody\r\n'))).toBe('');
  });

  it('returns the headers of a CRLF message up to the empty line', () => {
    const message = Buffer.from('Subject: a\r\nFrom: b@example.org\r\n\r\nbody\r\n\r\nmore\r\n');
    expect(headerBlock(message)).toBe('Subject: a\r\nFrom: b@example.org');
  });

  it('returns the headers of an LF message with CRLF line ends', () => {
    const message = Buffer.from('Subject: a\nFrom: b@example.org\n\nbody\n');
    expect(headerBlock(message)).toBe('Subject: a\r\nFrom: b@example.org');
  });

  it('keeps folded header lines', () => {
    const message = Buffer.from('Subject: a long\n\tsubject\nFrom: b@example.org\n\nbody\n');
    expect(headerBlock(message)).toBe('Subject: a long\r\n\tsubject\r\nFrom: b@example.org');
  });

  it('stops at the first empty line when the body has bare LF blank lines', () => {
    const message = Buffer.from('Subject: a\r\n\r\nbody\n\nmore');
    expect(headerBlock(message)).toBe('Subject: a');
  });

  it('returns the whole message when there is no empty line', () => {
    expect(headerBlock(Buffer.from('Subject: a\r\nFrom: b@example.org'))).toBe('Subject: a\r\nFrom: b@example.org');
  });

  it('returns at most 256 KiB of headers', () => {
    const message = Buffer.from(`X-Long: ${'x'.repeat(300 * 1024)}\r\n\r\nbody`);
    expect(headerBlock(message)).toHaveLength(256 * 1024);
  });
});

describe('buildDsn wording', () => {
  it('does not call a permanent refusal with an odd status an expiry', async () => {
    const failures = [
      { recipient: 'bob@example.com', reply: '550 4.2.2 full', status: '4.2.2', action: 'failed' as const },
    ];
    const parsed = await simpleParser(buildDsn(dsnInput({ failures })));
    expect(parsed.text).not.toContain('expired');
  });
});

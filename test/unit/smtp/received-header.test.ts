// Unit tests for the Received: trace header Holdfast prepends to each message.
import { describe, expect, it } from 'vitest';
import { formatRfc5322Date, receivedHeader, type TraceInfo } from '../../../src/smtp/received-header.js';

const trace: TraceInfo = {
  helo: 'client.example.org',
  clientHostname: 'mail.example.org',
  clientAddress: '192.0.2.7',
  hostname: 'mx.example.net',
  protocol: 'ESMTPS',
  queueId: '1KQ7ZD3TBX4H2MPV9',
  recipient: 'bob@example.com',
  date: new Date(Date.UTC(2026, 10, 23, 10, 57, 1)),
};

describe('receivedHeader', () => {
  it('names the client, this host, the protocol, the queue id, the recipient and the date', () => {
    expect(receivedHeader(trace)).toBe(
      'Received: from client.example.org (mail.example.org [192.0.2.7])\r\n' +
        '\tby mx.example.net (Holdfast) with ESMTPS id 1KQ7ZD3TBX4H2MPV9\r\n' +
        '\tfor <bob@example.com>; Mon, 23 Nov 2026 10:57:01 +0000\r\n',
    );
  });

  it('leaves out the for clause when there is no single recipient', () => {
    expect(receivedHeader({ ...trace, recipient: undefined })).toBe(
      'Received: from client.example.org (mail.example.org [192.0.2.7])\r\n' +
        '\tby mx.example.net (Holdfast) with ESMTPS id 1KQ7ZD3TBX4H2MPV9; Mon, 23 Nov 2026 10:57:01 +0000\r\n',
    );
  });

  it('writes unknown for a missing HELO name and client hostname', () => {
    const header = receivedHeader({ ...trace, helo: '', clientHostname: '' });
    expect(header).toMatch(/^Received: from unknown \(unknown \[192\.0\.2\.7\]\)\r\n/);
  });

  it('continues every line after the first with a tab', () => {
    const lines = receivedHeader(trace).split('\r\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(1, -1).every((line) => line.startsWith('\t'))).toBe(true);
  });
});

describe('formatRfc5322Date', () => {
  it('writes the date in UTC with a numeric zone', () => {
    expect(formatRfc5322Date(new Date(Date.UTC(2026, 0, 5, 3, 4, 5)))).toBe('Mon, 05 Jan 2026 03:04:05 +0000');
  });
});

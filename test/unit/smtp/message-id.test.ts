// Unit tests for finding the Message-ID in a message's header block (for the trace).
import { describe, expect, it } from 'vitest';
import { headerMessageId } from '../../../src/smtp/message-id.js';
import { normalizeMessageId } from '../../../src/repositories/trace.js';

const message = (text: string) => Buffer.from(text.replace(/\n/g, '\r\n'), 'utf8');

describe('headerMessageId', () => {
  it('finds the Message-ID whatever the case of the field name, without its angle brackets', () => {
    const body = message('From: a@remote.test\nmessage-ID:  <abc.123@remote.test>\nSubject: hi\n\nHello.\n');
    expect(headerMessageId(body)).toBe('abc.123@remote.test');
  });

  it('reads a Message-ID folded onto the next line', () => {
    expect(headerMessageId(message('Message-ID:\n <folded@remote.test>\nSubject: x\n\nbody\n'))).toBe(
      'folded@remote.test',
    );
  });

  it('reads bare LF line ends too', () => {
    expect(headerMessageId(Buffer.from('Subject: x\nMessage-Id: <lf@remote.test>\n\nbody\n'))).toBe('lf@remote.test');
  });

  it('finds none in a message without one', () => {
    expect(headerMessageId(message('From: a@remote.test\nSubject: hi\n\nHello.\n'))).toBeUndefined();
  });

  it('ignores a Message-ID line in the body', () => {
    expect(headerMessageId(message('Subject: fwd\n\nMessage-ID: <quoted@remote.test>\n'))).toBeUndefined();
  });

  it('finds none when the message starts with its body', () => {
    expect(headerMessageId(message('\nMessage-ID: <in-body@remote.test>\n'))).toBeUndefined();
  });

  it('does not look past the first 64 kB of headers', () => {
    const filler = `X-Filler: ${'x'.repeat(998)}\n`.repeat(70);
    expect(headerMessageId(message(`${filler}Message-ID: <late@remote.test>\n\nbody\n`))).toBeUndefined();
  });
});

describe('normalizeMessageId', () => {
  it('takes the id inside angle brackets, or the trimmed value without them', () => {
    expect(normalizeMessageId(' <id@host> (comment)')).toBe('id@host');
    expect(normalizeMessageId(' id@host ')).toBe('id@host');
  });

  it('gives nothing for an empty or unreasonably long id', () => {
    expect(normalizeMessageId('<>')).toBeUndefined();
    expect(normalizeMessageId(`<${'x'.repeat(300)}@host>`)).toBeUndefined();
  });
});

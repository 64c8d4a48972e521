// Unit tests for Holdfast's own SMTP replies: codes, enhanced codes and the responseCode convention.
import { describe, expect, it } from 'vitest';
import { REPLIES, replyError, replyText, type ReplyName } from '../../../src/smtp/replies.js';

const NAMES = Object.keys(REPLIES) as ReplyName[];

describe('REPLIES', () => {
  it.each(NAMES)('%s starts with an enhanced code whose class matches its numeric code', (name) => {
    const text = replyText(name, 'X');
    const enhanced = /^([245])\.\d{1,3}\.\d{1,3} \S/.exec(text);
    expect(enhanced).not.toBeNull();
    expect(enhanced?.[1]).toBe(String(REPLIES[name].code)[0]);
  });

  it.each(NAMES)('%s has a code between 200 and 599', (name) => {
    expect(REPLIES[name].code).toBeGreaterThanOrEqual(200);
    expect(REPLIES[name].code).toBeLessThan(600);
  });
});

describe('replyText', () => {
  it('puts the argument in place of %s', () => {
    expect(replyText('queued', '1KQ7ZD3TBX4H2MPV9')).toBe('2.0.0 Ok: queued as 1KQ7ZD3TBX4H2MPV9');
  });

  it('leaves a reply without an argument as written', () => {
    expect(replyText('relayDenied')).toBe('5.7.1 Relay access denied');
  });
});

describe('replyError', () => {
  it('carries the numeric code as responseCode and the reply text as message', () => {
    const error = replyError('userUnknown');
    expect(error).toBeInstanceOf(Error);
    expect(error.responseCode).toBe(550);
    expect(error.message).toBe('5.1.1 Recipient address rejected: User unknown');
  });

  it('fills the argument into the message', () => {
    const error = replyError('queued', 'ABC');
    expect(error.responseCode).toBe(250);
    expect(error.message).toBe('2.0.0 Ok: queued as ABC');
  });
});

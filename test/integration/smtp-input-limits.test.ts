// Scenario: bad input at the SMTP front: over-long lines, invalid and oversized addresses, commands
// out of order or unknown (early talkers: smtp-greeting.test.ts). Each gets its reply, and nothing is stored for it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { freePort } from '../helpers/ports.js';
import { queuedIds, storedBody } from '../helpers/queued.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { SmtpDialog, converse, queueIdOf, repliesUntilClosed } from '../helpers/smtp-client.js';

const LONG_DOMAIN = `${'d'.repeat(60)}.${'e'.repeat(60)}.${'f'.repeat(60)}.${'g'.repeat(60)}.example`; // 252 octets

describe('bad input at the SMTP front', () => {
  let redis: TestRedis;
  let relay: TestRelay;

  beforeAll(async () => {
    redis = await startTestRedis();
    // Every store is down: whatever is accepted stays in Redis, where the test can count it.
    relay = await startRelay(testConfig(redis.url, { store1: await freePort(), store2: await freePort() }));
  });

  afterAll(async () => {
    await relay?.stop();
    await redis?.cleanup();
  });

  describe('line lengths', () => {
    it('takes a command line of limits.commandLineLength (2048) octets', async () => {
      expect(await converse(relay.port, [`NOOP ${'x'.repeat(2043)}`])).toEqual([expect.stringMatching(/^250 /)]);
    });

    it('answers 421 and closes the connection on a command line one octet longer', async () => {
      const { dialog } = await SmtpDialog.open(relay.port);
      dialog.write(`NOOP ${'x'.repeat(2044)}\r\n`);
      expect(await repliesUntilClosed(dialog)).toEqual(['421 4.4.2 Error: Command line too long']);
    });

    it('answers 421 to an endless line without its end ever coming (the limit counts a partial line too)', async () => {
      const { dialog } = await SmtpDialog.open(relay.port);
      dialog.write('MAIL FROM:<'.padEnd(10_000, 'a'));
      expect(await repliesUntilClosed(dialog)).toEqual(['421 4.4.2 Error: Command line too long']);
    });

    it('stores a message with a 100,000-octet line whole: RFC 5322 says 998, but mail is never cut', async () => {
      const line = 'y'.repeat(100_000);
      const { dialog } = await SmtpDialog.open(relay.port);
      for (const command of ['EHLO client.test', 'MAIL FROM:<sender@remote.test>', 'RCPT TO:<alice@example.com>'])
        await dialog.command(command);
      expect(await dialog.command('DATA')).toMatch(/^354/);
      dialog.write(`Subject: long\r\n\r\n${line}\r\n.\r\n`);
      const queueId = queueIdOf(await dialog.reply());
      dialog.close();
      expect((await storedBody(relay, redis.client, queueId)).toString('latin1')).toContain(`\r\n${line}\r\n`);
    });
  });

  describe('addresses', () => {
    it.each([
      ['a sender without angle brackets', 'MAIL FROM:sender@remote.test', /^501 5\.1\.7 /],
      ['a sender with two @', 'MAIL FROM:<a@b@remote.test>', /^501 5\.1\.7 /],
      ['a sender path over 256 octets', `MAIL FROM:<someone@x${LONG_DOMAIN}>`, /^501 5\.1\.7 /],
      ['a sender with a control character', 'MAIL FROM:<a\u0001b@remote.test>', /^501 5\.1\.7 /],
      ['a sender with a zero-width space', 'MAIL FROM:<a\u200bb@remote.test>', /^501 5\.1\.7 /],
      ['a sender domain with an empty label', 'MAIL FROM:<a@remote..test>', /^501 5\.1\.7 /],
      ['a sender declaring a size over the limit', 'MAIL FROM:<a@remote.test> SIZE=999999999999', /^552 5\.3\.4 /],
      ['a sender with an unknown BODY type', 'MAIL FROM:<a@remote.test> BODY=BINARYMIME', /^501 /],
    ])('refuses %s', async (_what, command, expected) => {
      expect(await converse(relay.port, [command])).toEqual([expect.stringMatching(expected)]);
    });

    it('accepts the null sender, and a sender local part over 64 octets (SRS and VERP senders have them)', async () => {
      const replies = await converse(relay.port, [
        'MAIL FROM:<>',
        'RSET',
        `MAIL FROM:<${'s'.repeat(120)}@remote.test>`,
      ]);
      expect(replies).toEqual([
        expect.stringMatching(/^250 /),
        expect.stringMatching(/^250 /),
        expect.stringMatching(/^250 /),
      ]);
    });

    it.each([
      ['an empty recipient', 'RCPT TO:<>', /^501 5\.1\.3 /],
      ['a recipient without angle brackets', 'RCPT TO:alice@example.com', /^501 5\.1\.3 /],
      ['a recipient local part over 64 octets', `RCPT TO:<${'a'.repeat(65)}@example.com>`, /^501 5\.1\.3 .*over 64/],
      ['a recipient domain over 255 octets', `RCPT TO:<a@${LONG_DOMAIN}.${LONG_DOMAIN}>`, /^501 5\.1\.3 /],
      ['a recipient with a line feed smuggled in xtext', 'RCPT TO:<alice@example.com> ORCPT=rfc822;a+0Ab', /^501 /],
      ['a recipient at an address literal', 'RCPT TO:<alice@[127.0.0.1]>', /^550 5\.7\.1 /],
      [
        'a recipient local part of 64 octets that is not a user',
        `RCPT TO:<${'a'.repeat(64)}@example.com>`,
        /^550 5\.1\.1 /,
      ],
    ])('refuses %s', async (_what, command, expected) => {
      const replies = await converse(relay.port, ['MAIL FROM:<sender@remote.test>', command]);
      expect(replies[1]).toMatch(expected);
    });

    it('accepts a recipient with a source route, and ignores the route (RFC 5321 appendix C)', async () => {
      const replies = await converse(relay.port, [
        'MAIL FROM:<sender@remote.test>',
        'RCPT TO:<@relay.test:alice@example.com>',
      ]);
      expect(replies[1]).toMatch(/^250 /);
    });
  });

  describe('commands out of order', () => {
    it.each([
      ['MAIL before EHLO', [], 'MAIL FROM:<sender@remote.test>', /^503 5\.5\.1 Error: send HELO\/EHLO first/],
      [
        'RCPT before MAIL',
        ['EHLO client.test'],
        'RCPT TO:<alice@example.com>',
        /^503 5\.5\.1 Error: need MAIL command/,
      ],
      ['DATA before MAIL', ['EHLO client.test'], 'DATA', /^503 5\.5\.1 Error: need RCPT command/],
      ['DATA before RCPT', ['EHLO client.test', 'MAIL FROM:<a@remote.test>'], 'DATA', /^503 5\.5\.1 Error: need RCPT/],
      [
        'MAIL twice',
        ['EHLO client.test', 'MAIL FROM:<a@remote.test>'],
        'MAIL FROM:<b@remote.test>',
        /^503 5\.5\.1 Error: nested MAIL/,
      ],
      [
        'RCPT after RSET',
        ['EHLO client.test', 'MAIL FROM:<a@remote.test>', 'RSET'],
        'RCPT TO:<alice@example.com>',
        /^503 5\.5\.1 /,
      ],
      [
        'BDAT (CHUNKING is not offered)',
        ['EHLO client.test', 'MAIL FROM:<a@remote.test>', 'RCPT TO:<alice@example.com>'],
        'BDAT 5 LAST',
        /^500 5\.5\.2 /,
      ],
      ['AUTH (not offered on an MX)', ['EHLO client.test'], 'AUTH PLAIN AGFsaWNlAHNlY3JldA==', /^500 5\.5\.2 /],
      ['EHLO without a name', [], 'EHLO', /^501 /],
    ])('refuses %s', async (_what, before, command, expected) => {
      const { dialog } = await SmtpDialog.open(relay.port);
      for (const line of before) await dialog.command(line);
      expect(await dialog.command(command)).toMatch(expected);
      dialog.close();
    });

    it('takes a command line ending in a bare LF like one ending in CRLF (Postfix normalize does too)', async () => {
      const { dialog } = await SmtpDialog.open(relay.port);
      dialog.write('EHLO client.test\nMAIL FROM:<sender@remote.test>\nRCPT TO:<nobody@example.com>\n');
      expect((await dialog.reply()).split('\r\n')[0]).toMatch(/^250-mx\.test /);
      expect(await dialog.reply()).toMatch(/^250 2\.1\.0 /);
      expect(await dialog.reply()).toMatch(/^550 5\.1\.1 /);
      dialog.close();
    });

    it('answers 421 and closes the connection after 10 unknown commands', async () => {
      const { dialog } = await SmtpDialog.open(relay.port);
      dialog.write('XYZZY\r\n'.repeat(12));
      const replies = await repliesUntilClosed(dialog);
      expect(replies).toHaveLength(10);
      expect(replies.slice(0, 9).every((reply) => reply.startsWith('500 5.5.2'))).toBe(true);
      expect(replies[9]).toMatch(/^421 .*too many unrecognized commands/);
    });

    it('answers 421 to an HTTP request (a web page trying to reach the MX)', async () => {
      const { dialog } = await SmtpDialog.open(relay.port);
      dialog.write('POST / HTTP/1.1\r\n');
      expect(await repliesUntilClosed(dialog)).toEqual([expect.stringMatching(/^421 .*HTTP requests not allowed/)]);
    });
  });

  it('stored only the one message the tests above completed', async () => {
    expect(await queuedIds(relay, redis.client)).toHaveLength(1);
  });
});

// Scenario: a hostile or sloppy client's commands and addresses, byte for byte (a raw socket: a
// library client would tidy them), answered as a hardened Postfix answers them, or as the RFCs allow.
import { describe, expect, it } from 'vitest';
import { SmtpDialog, queueIdOf } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

describe('commands and addresses at the SMTP front', () => {
  const fixture = withRelay({
    stores: ['store1'],
    config: { routing: { users: { '"john smith"@example.com': 'store1', 'jörg@example.com': 'store1' } } },
  });
  const { store1 } = fixture.stores;

  /** A session after EHLO; each line is written as the bytes given, and its reply read. */
  async function session() {
    const { dialog } = await SmtpDialog.open(fixture.relay.port);
    await dialog.command('EHLO client.test');
    const say = async (line: string | Buffer) => {
      dialog.write(Buffer.concat([Buffer.isBuffer(line) ? line : Buffer.from(line, 'utf8'), Buffer.from('\r\n')]));
      return dialog.reply();
    };
    return { dialog, say };
  }

  /** The reply to RCPT TO:<address> after a plain MAIL FROM (with `mailArgs` after it). */
  async function rcpt(address: string | Buffer, mailArgs = ''): Promise<string> {
    const { dialog, say } = await session();
    try {
      expect(await say(`MAIL FROM:<sender@remote.test>${mailArgs}`)).toMatch(/^250 /);
      const prefix = Buffer.from('RCPT TO:<');
      const suffix = Buffer.from('>');
      return await say(Buffer.concat([prefix, Buffer.isBuffer(address) ? address : Buffer.from(address), suffix]));
    } finally {
      dialog.close();
    }
  }

  /** Sends a message to `address`; resolves to its queue id. */
  async function send(address: string, body = 'Subject: test\r\n\r\nHello.\r\n'): Promise<string> {
    const { dialog, say } = await session();
    expect(await say('MAIL FROM:<sender@remote.test>')).toMatch(/^250 /);
    expect(await say(`RCPT TO:<${address}>`)).toMatch(/^250 /);
    expect(await say('DATA')).toMatch(/^354 /);
    const queueId = queueIdOf(await say(Buffer.from(`${body}.`, 'latin1')));
    dialog.close();
    return queueId;
  }

  /** The recipients a message was queued for (its Reception record). */
  function queuedFor(queueId: string): unknown {
    return fixture.relay.events('Reception').find((record) => record.queueId === queueId)?.recipients;
  }

  it.each([
    ['the percent hack', 'alice%other.example@example.com'],
    ['a UUCP bang path', 'other.example!alice@example.com'],
    ['the percent hack inside quotes', '"alice%other.example"@example.com'],
  ])(
    'refuses sender-specified routing in a local domain (%s) with 550 5.7.1, as Postfix does',
    async (_what, address) => {
      expect(await rcpt(address)).toMatch(/^550 5\.7\.1 /);
    },
  );

  it('drops a source route (@relay:user@domain) and delivers to the mailbox it names (RFC 5321 section 4.1.2)', async () => {
    const queueId = await send('@relay.example:alice@example.com');
    expect(queuedFor(queueId)).toEqual(['alice@example.com']);
    await waitFor(() => store1.delivered('alice@example.com').some((message) => message.body.includes(queueId)));
  });

  it('refuses a verb that is not ASCII, even one that Unicode case folding turns into MAIL, with 500 5.5.2', async () => {
    const { dialog, say } = await session();
    expect(await say('MA\u0131L FROM:<sender@remote.test>')).toMatch(/^500 5\.5\.2 /);
    expect(await say('MAIL FROM:<sender@remote.test>')).toMatch(/^250 /); // the session goes on
    dialog.close();
  });

  it('refuses an address that is not valid UTF-8 with 501 5.5.4', async () => {
    expect(await rcpt(Buffer.from([0x61, 0xff, 0x62, 0x40, ...Buffer.from('example.com')]))).toMatch(/^501 5\.5\.4 /);
  });

  it('refuses a non-ASCII address without SMTPUTF8 on MAIL FROM with 553 5.6.7 (RFC 6531 section 3.5), and takes it with', async () => {
    expect(await rcpt('jörg@example.com')).toMatch(/^553 5\.6\.7 /);
    const { dialog, say } = await session();
    expect(await say('MAIL FROM:<jörg@remote.test>')).toMatch(/^553 5\.6\.7 /);
    dialog.close();
    expect(await rcpt('jörg@example.com', ' SMTPUTF8')).toMatch(/^250 /);
  });

  it('accepts a quoted local part of a known user, and drops quotes the local part does not need', async () => {
    expect(queuedFor(await send('"john smith"@example.com'))).toEqual(['"john smith"@example.com']);
    expect(queuedFor(await send('"alice"@example.com'))).toEqual(['alice@example.com']);
    expect(await rcpt('"jane doe"@example.com')).toMatch(/^550 5\.1\.1 /); // not a user
  });

  it.each([
    ['a control character', '"a\u001bb"@example.com'],
    ['an invisible one', '"a\u200bb"@example.com'],
    ['a domain that is not one', '"a b"@example.com$\''],
    ['a path over 253 octets', `"${'a '.repeat(120)}"@example.com`],
  ])('refuses a quoted local part with %s as smtp-server refuses a bare one', async (_what, address) => {
    expect(await rcpt(address)).toMatch(/^501 /);
  });

  it('asks for SMTPUTF8 on each MAIL FROM: one that had it does not carry over, and a parameter does not hide the address', async () => {
    const { dialog, say } = await session();
    expect(await say('MAIL FROM:<sender@remote.test> SMTPUTF8')).toMatch(/^250 /);
    expect(await say('RSET')).toMatch(/^250 /);
    expect(await say('MAIL FROM:<sender@remote.test>')).toMatch(/^250 /);
    expect(await say('RCPT TO:<jörg@example.com>')).toMatch(/^553 5\.6\.7 /);
    expect(await say('RSET')).toMatch(/^250 /);
    expect(await say('MAIL FROM:<jörg@remote.test> X=\u200b')).toMatch(/^553 5\.6\.7 /);
    // A nested MAIL FROM, refused, leaves the transaction's SMTPUTF8 as it was.
    expect(await say('MAIL FROM:<sender@remote.test> SMTPUTF8')).toMatch(/^250 /);
    expect(await say('MAIL FROM:<other@remote.test>')).toMatch(/^503 /);
    expect(await say('RCPT TO:<jörg@example.com>')).toMatch(/^250 /);
    dialog.close();
  });

  it('ends a session after ten commands it does not know, those that are not ASCII included', async () => {
    const { dialog, say } = await session();
    for (let count = 1; count < 10; count++) expect(await say('MA\u0131L FROM:<a@b.test>')).toMatch(/^500 /);
    expect(await say('MA\u0131L FROM:<a@b.test>')).toMatch(/^421 /);
    expect(await dialog.waitClosed()).toBe(true);
  });

  it('passes NUL bytes in the message on as they came, a dot after one included', async () => {
    const queueId = await send('alice@example.com', 'Subject: nul\r\n\r\na\u0000b\r\n\u0000.\r\n..c\r\n');
    let body = '';
    await waitFor(() => {
      body = store1.delivered('alice@example.com').find((message) => message.body.includes(queueId))?.body ?? '';
      return body !== '';
    });
    expect(body).toContain('\r\n\r\na\u0000b\r\n\u0000.\r\n.c\r\n');
  });
});

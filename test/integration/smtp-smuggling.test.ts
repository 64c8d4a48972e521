// Scenario: SMTP smuggling. A DATA section carrying a non-standard end-of-data sequence followed by a
// whole second transaction stores one message (bare line endings normalised) or none (refused),
// never two; and a message with bare line endings is stored with CRLF only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countBareLineEndings } from '../../src/smtp/line-endings.js';
import { keysWithPrefix, startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { FakeMailstore } from '../helpers/mailstore.js';
import { freePort } from '../helpers/ports.js';
import { queuedIds, storedBody } from '../helpers/queued.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { SmtpDialog, queueIdOf, repliesUntilClosed } from '../helpers/smtp-client.js';

/** Every end-of-data look-alike of the smuggling research (SEC Consult, Postfix's smtp-smuggling page). */
const SEQUENCES = ['\n.\n', '\r\n.\n', '\n.\r\n', '\r.\r', '\r\n.\r', '\r.\r\n'];

/** A whole second transaction, to a recipient of another store, as the attacker hopes it is read. */
const SMUGGLED =
  'MAIL FROM:<smuggler@remote.test>\r\nRCPT TO:<carol@example.com>\r\nDATA\r\n' +
  'From: ceo@example.com\r\nSubject: smuggled\r\n\r\nforged\r\n';

/**
 * Sends one transaction (to bob, whose store is down, so the message stays in Redis) whose DATA
 * holds `sequence` and the smuggled transaction before the real end, after `padding`; returns every
 * reply after 354.
 */
async function smuggle(port: number, sequence: string, padding = ''): Promise<string[]> {
  const { dialog } = await SmtpDialog.open(port);
  await dialog.command('EHLO client.test');
  expect(await dialog.command('MAIL FROM:<sender@remote.test>')).toMatch(/^250/);
  expect(await dialog.command('RCPT TO:<bob@example.com>')).toMatch(/^250/);
  expect(await dialog.command('DATA')).toMatch(/^354/);
  dialog.write(`Subject: carrier\r\n\r\n${padding}hello${sequence}${SMUGGLED}.\r\nQUIT\r\n`);
  return repliesUntilClosed(dialog);
}

describe('SMTP smuggling', () => {
  let redis: TestRedis;
  let normalizing: TestRelay;
  let rejecting: TestRelay;
  /** The same two, with the message streamed into Redis past a 4 kB buffer, and a 20 kB size limit. */
  let normalizingStreamed: TestRelay;
  let rejectingStreamed: TestRelay;
  const store = new FakeMailstore();

  beforeAll(async () => {
    redis = await startTestRedis();
    const stores = { store1: await store.start(), store2: await freePort() }; // store2 (bob's) is down
    normalizing = await startRelay(testConfig(redis.url, stores));
    rejecting = await startRelay(testConfig(redis.url, stores, { listener: { bareLineEndings: 'reject' } }));
    const limits = { messageBuffer: '4kb', maxMessageSize: '20kb' };
    normalizingStreamed = await startRelay(testConfig(redis.url, stores, { limits }));
    rejectingStreamed = await startRelay(
      testConfig(redis.url, stores, { limits, listener: { bareLineEndings: 'reject' } }),
    );
  });

  afterAll(async () => {
    for (const relay of [normalizing, rejecting, normalizingStreamed, rejectingStreamed]) await relay?.stop();
    await store.stop();
    await redis?.cleanup();
  });

  describe('with bare line endings normalised (the default)', () => {
    it.each(SEQUENCES)('stores exactly one message when DATA holds %j and a smuggled transaction', async (sequence) => {
      const before = await queuedIds(normalizing, redis.client);
      const replies = await smuggle(normalizing.port, sequence);
      expect(replies).toHaveLength(2);
      expect(replies[0]).toMatch(/^250 2\.0\.0 Ok: queued as /);
      expect(replies[1]).toMatch(/^221 /);
      const queueId = queueIdOf(replies[0]!);
      const after = await queuedIds(normalizing, redis.client);
      expect(after.filter((id) => !before.includes(id))).toEqual([queueId]);
      expect(normalizing.events('Reception').filter((record) => record.sender === 'smuggler@remote.test')).toEqual([]);
      // The would-be second transaction is content of the first, on lines of its own, with CRLF only.
      const body = await storedBody(normalizing, redis.client, queueId);
      expect(body.toString('latin1')).toContain(`hello\r\n.\r\n${SMUGGLED}`);
      expect(countBareLineEndings(body)).toBe(0);
    });

    it('stores a message written with bare LF line endings with CRLF line endings', async () => {
      const { dialog } = await SmtpDialog.open(normalizing.port);
      await dialog.command('EHLO client.test');
      await dialog.command('MAIL FROM:<sender@remote.test>');
      await dialog.command('RCPT TO:<bob@example.com>');
      await dialog.command('DATA');
      dialog.write('Subject: unix\nX-Mixed: yes\r\n\nline one\nline two\r\r\n.\r\n');
      const queueId = queueIdOf(await dialog.reply());
      dialog.close();
      const body = (await storedBody(normalizing, redis.client, queueId)).toString('latin1');
      expect(body).toMatch(/\r\nSubject: unix\r\nX-Mixed: yes\r\n\r\nline one\r\nline two\r\n\r\n$/);
    });
  });

  describe('with bare line endings refused (listener.bareLineEndings: reject)', () => {
    it.each(SEQUENCES)(
      'stores nothing and answers 550 5.5.2 when DATA holds %j and a smuggled transaction',
      async (sequence) => {
        const before = await queuedIds(rejecting, redis.client);
        const replies = await smuggle(rejecting.port, sequence);
        expect(replies).toHaveLength(2);
        expect(replies[0]).toMatch(/^550 5\.5\.2 Message refused: bare <CR> or <LF> received/);
        expect(replies[1]).toMatch(/^221 /);
        expect(await queuedIds(rejecting, redis.client)).toEqual(before);
        expect(rejecting.events('Rejection').at(-1)).toMatchObject({ stage: 'data', reason: 'bare-line-ending' });
      },
    );

    it('takes the next message on the same connection once one was refused', async () => {
      const { dialog } = await SmtpDialog.open(rejecting.port);
      await dialog.command('EHLO client.test');
      for (const [body, expected] of [
        ['Subject: bare\n\nhello\n\r\n', /^550 5\.5\.2 /],
        ['Subject: proper\r\n\r\nhello\r\n', /^250 2\.0\.0 /],
      ] as const) {
        expect(await dialog.command('MAIL FROM:<sender@remote.test>')).toMatch(/^250/);
        expect(await dialog.command('RCPT TO:<bob@example.com>')).toMatch(/^250/);
        expect(await dialog.command('DATA')).toMatch(/^354/);
        dialog.write(`${body}.\r\n`);
        expect(await dialog.reply()).toMatch(expected);
      }
      dialog.close();
    });
  });

  describe('with the message streamed into Redis past limits.messageBuffer', () => {
    const PADDING = `${'p'.repeat(76)}\r\n`.repeat(130); // 10 kB: the sequence arrives after the buffer filled

    it.each(SEQUENCES)('stores exactly one message when DATA holds %j far into the message', async (sequence) => {
      const before = await queuedIds(normalizingStreamed, redis.client);
      const replies = await smuggle(normalizingStreamed.port, sequence, PADDING);
      expect(replies[0]).toMatch(/^250 2\.0\.0 /);
      const queueId = queueIdOf(replies[0]!);
      expect((await queuedIds(normalizingStreamed, redis.client)).filter((id) => !before.includes(id))).toEqual([
        queueId,
      ]);
      const body = await storedBody(normalizingStreamed, redis.client, queueId);
      expect(body.toString('latin1')).toContain(`${PADDING}hello\r\n.\r\n${SMUGGLED}`);
      expect(countBareLineEndings(body)).toBe(0);
    });

    it.each(SEQUENCES)(
      'stores nothing, and leaves nothing streamed, when refusing DATA holding %j',
      async (sequence) => {
        const before = await queuedIds(rejectingStreamed, redis.client);
        const replies = await smuggle(rejectingStreamed.port, sequence, PADDING);
        expect(replies[0]).toMatch(/^550 5\.5\.2 /);
        expect(await queuedIds(rejectingStreamed, redis.client)).toEqual(before);
        const prefix = rejectingStreamed.config.redis.prefix;
        expect(await keysWithPrefix(redis.client, `${prefix}:incoming:*`)).toEqual([]);
      },
    );

    it('stores whole a message just under the size limit whose bare LFs take it past the limit', async () => {
      const text = `Subject: lf\n\n${`${'x'.repeat(9)}\n`.repeat(1900)}`; // 19 kB sent, 21 kB with CRLF
      const { dialog } = await SmtpDialog.open(normalizingStreamed.port);
      for (const command of ['EHLO client.test', 'MAIL FROM:<sender@remote.test>', 'RCPT TO:<bob@example.com>', 'DATA'])
        await dialog.command(command);
      dialog.write(`${text}\r\n.\r\n`);
      const queueId = queueIdOf(await dialog.reply());
      dialog.close();
      const body = (await storedBody(normalizingStreamed, redis.client, queueId)).toString('latin1');
      const expected = `${text.replace(/\n/g, '\r\n')}\r\n`;
      expect(expected.length).toBeGreaterThan(20 * 1024);
      const start = body.indexOf('Subject: lf');
      expect(body.slice(0, start)).toMatch(/^Received: [^]*\r\n$/); // Holdfast's trace header, then...
      expect(body.slice(start)).toBe(expected); // ...the message, whole, with CRLF only
    });
  });

  it('never delivers anything to the smuggled recipient', () => {
    expect(store.delivered('carol@example.com')).toEqual([]);
  });
});

// Scenario: clients that hold connections: idle ones, slow-loris dribblers (in commands and in DATA),
// too many at once, too many per minute from one address, and sessions still open at shutdown.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { freePort } from '../helpers/ports.js';
import { queuedIds } from '../helpers/queued.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { SmtpDialog, repliesUntilClosed } from '../helpers/smtp-client.js';

/** Writes `text` one byte at a time, `gapMs` apart, until the server closes the connection. */
async function dribble(dialog: SmtpDialog, text: string, gapMs: number): Promise<void> {
  for (let index = 0; !dialog.closed && index < 200; index++) {
    dialog.write(text[index % text.length]!);
    await sleep(gapMs);
  }
}

describe('slow and greedy clients', () => {
  let redis: TestRedis;
  let stores: Record<string, number>;
  const relays: TestRelay[] = [];
  const relayWith = async (limits: Record<string, unknown>) => {
    const relay = await startRelay(testConfig(redis.url, stores, { limits }));
    relays.push(relay);
    return relay;
  };

  beforeAll(async () => {
    redis = await startTestRedis();
    stores = { store1: await freePort() }; // down: accepted mail stays in Redis
  });

  afterAll(async () => {
    for (const relay of relays) await relay.stop();
    await redis?.cleanup();
  });

  describe('timeouts', () => {
    let idle: TestRelay;
    let deadline: TestRelay;

    beforeAll(async () => {
      idle = await relayWith({ timeouts: { socket: '1s' } });
      // Bytes every 200 ms keep the 5 s idle timeout away; the 2 s transaction deadline is what cuts.
      deadline = await relayWith({ timeouts: { socket: '5s', transaction: '2s' } });
    });

    it('answers 421 4.4.2 and closes when a client stays idle for limits.timeouts.socket', async () => {
      const { dialog } = await SmtpDialog.open(idle.port);
      await dialog.command('EHLO client.test');
      expect(await repliesUntilClosed(dialog)).toEqual(['421 4.4.2 Timeout - closing connection']);
    });

    it('cuts off a client that dribbles a command a byte at a time, past limits.timeouts.transaction', async () => {
      const { dialog } = await SmtpDialog.open(deadline.port);
      await dribble(dialog, 'NOOP\r\n', 200);
      const replies = await repliesUntilClosed(dialog);
      expect(replies.at(-1)).toBe('421 4.4.2 Took too long to send a message, closing connection');
      expect(deadline.events('Rejection').at(-1)).toMatchObject({ stage: 'session', reason: 'transaction-timeout' });
    });

    it('cuts off a client that dribbles its message, and stores nothing of it', async () => {
      const before = await queuedIds(deadline, redis.client);
      const { dialog } = await SmtpDialog.open(deadline.port);
      for (const command of ['EHLO client.test', 'MAIL FROM:<sender@remote.test>', 'RCPT TO:<alice@example.com>'])
        await dialog.command(command);
      expect(await dialog.command('DATA')).toMatch(/^354/);
      await dribble(dialog, 'Subject: slow\r\n\r\nvery slow\r\n', 200);
      expect(await repliesUntilClosed(dialog)).toEqual([
        '421 4.4.2 Took too long to send a message, closing connection',
      ]);
      expect(await queuedIds(deadline, redis.client)).toEqual(before);
    });

    it('gives each message the whole deadline again: a client sending mail steadily is never cut off', async () => {
      const { dialog } = await SmtpDialog.open(deadline.port);
      await dialog.command('EHLO client.test');
      for (let message = 0; message < 4; message++) {
        await sleep(800); // 3.2 s in all, over the 2 s deadline
        expect(await dialog.command('MAIL FROM:<sender@remote.test>')).toMatch(/^250/);
        expect(await dialog.command('RCPT TO:<alice@example.com>')).toMatch(/^250/);
        expect(await dialog.command('DATA')).toMatch(/^354/);
        dialog.write(`Subject: steady ${message}\r\n\r\nhello\r\n.\r\n`);
        expect(await dialog.reply()).toMatch(/^250 2\.0\.0 /);
      }
      dialog.close();
    });
  });

  describe('connection limits', () => {
    it('answers 421 4.7.0 to a connection over limits.connections.total', async () => {
      const relay = await relayWith({ connections: { total: 2, perIp: 10 } });
      const sessions = [await SmtpDialog.open(relay.port), await SmtpDialog.open(relay.port)];
      const third = await SmtpDialog.open(relay.port);
      expect(sessions.map((session) => session.greeting.slice(0, 3))).toEqual(['220', '220']);
      expect(third.greeting).toMatch(/^421 4\.7\.0 Too many connections, try again later/);
      expect(third.dialog.closed || (await third.dialog.waitClosed())).toBe(true);
      for (const session of [...sessions, third]) session.dialog.close();
    });

    it('answers 421 4.7.0 to an address over limits.connections.ratePerIp connections in a minute', async () => {
      const relay = await relayWith({ connections: { ratePerIp: 3 } });
      const greetings: string[] = [];
      for (let attempt = 0; attempt < 5; attempt++) {
        const { dialog, greeting } = await SmtpDialog.open(relay.port);
        greetings.push(greeting.slice(0, 9));
        dialog.close();
      }
      expect(greetings).toEqual(['220 mx.te', '220 mx.te', '220 mx.te', '421 4.7.0', '421 4.7.0']);
      expect(relay.events('Rejection').at(-1)).toMatchObject({ reason: 'connectionRate', client: '127.0.0.1' });
    });
  });

  it('answers 421 4.3.2 to a session still open when Holdfast stops, and stops', async () => {
    const relay = await relayWith({});
    const { dialog } = await SmtpDialog.open(relay.port);
    await dialog.command('EHLO client.test');
    await relay.stop();
    expect(await repliesUntilClosed(dialog)).toEqual([expect.stringMatching(/^421 4\.3\.2 /)]);
  });
});

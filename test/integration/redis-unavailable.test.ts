// Scenario: Redis stops, hangs or fills up while mail arrives: 451/452, never a false 250.
import { afterAll, describe, expect, it } from 'vitest';
import { SmtpDialog, send, testMessage } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

/** Opens a transaction up to the end of RCPT, so that only the DATA stage meets the fault. */
async function openTransaction(port: number): Promise<SmtpDialog> {
  const { dialog } = await SmtpDialog.open(port);
  await dialog.command('EHLO client.test');
  expect(await dialog.command('MAIL FROM:<sender@remote.test>')).toMatch(/^250/);
  expect(await dialog.command('RCPT TO:<alice@example.com>')).toMatch(/^250/);
  return dialog;
}

async function finishData(dialog: SmtpDialog, subject: string): Promise<{ reply: string; elapsedMs: number }> {
  expect(await dialog.command('DATA')).toMatch(/^354/);
  const started = Date.now();
  dialog.write(`${testMessage(subject).replace(/\n/g, '\r\n')}.\r\n`);
  const reply = await dialog.reply(20_000);
  return { reply, elapsedMs: Date.now() - started };
}

describe('intake when Redis is unavailable', () => {
  const fixture = withRelay({ stores: ['store1'] });
  // afterAll hooks run last registered first: Redis is resumed before the fixture stops the relay.
  afterAll(() => fixture.redis.resume());

  it('answers DATA with 451 4.3.0 within the bound when Redis is stopped, and stores nothing', async () => {
    const { relay, redis } = fixture;
    const dialog = await openTransaction(relay.port);
    await redis.stop();
    const { reply, elapsedMs } = await finishData(dialog, 'redis stopped');
    dialog.close();
    expect(reply).toMatch(/^451 4\.3\.0 /);
    expect(elapsedMs).toBeLessThan(5000);

    await redis.restart();
    const queueId = relay.events('ReceptionFailed').at(-1)?.queueId;
    expect(queueId).toBeTruthy();
    // Redis is back: the relay takes mail again, and nothing of the refused message exists.
    await waitFor(async () =>
      (await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'after').catch(() => '')).startsWith('250'),
    );
    expect(await redis.client.keys(`*${queueId}*`)).toEqual([]);
  });

  it('answers DATA with 451 4.3.0 within the bound when Redis hangs', async () => {
    const { relay, redis } = fixture;
    const dialog = await openTransaction(relay.port);
    redis.pause();
    try {
      const { reply, elapsedMs } = await finishData(dialog, 'redis hung');
      expect(reply).toMatch(/^451 4\.3\.0 /);
      expect(elapsedMs).toBeLessThan(5000);
    } finally {
      redis.resume();
      dialog.close();
    }
  });

  it('answers MAIL FROM with 452 4.3.1 while Redis memory is above the high-water mark, and recovers', async () => {
    const { relay, redis } = fixture;
    const used = Number(/used_memory:(\d+)/.exec(await redis.client.info('memory'))![1]);
    await redis.client.config('SET', 'maxmemory', String(Math.round(used * 1.05)));
    try {
      await waitFor(() => relay.events('RedisMemoryHigh').length > 0, 5000, 'memory watch');
      const { dialog } = await SmtpDialog.open(relay.port);
      await dialog.command('EHLO client.test');
      expect(await dialog.command('MAIL FROM:<sender@remote.test>')).toMatch(/^452 4\.3\.1 /);
      dialog.close();
    } finally {
      await redis.client.config('SET', 'maxmemory', '0');
    }
    await waitFor(() => relay.events('RedisMemoryNormal').length > 0, 5000, 'memory back to normal');
    expect(await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'drained')).toMatch(
      /^250 2\.0\.0 Ok: queued as /,
    );
  });
});

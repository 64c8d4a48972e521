// Scenario: messages larger than the message buffer stream into Redis while they arrive.
import { describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { keysWithPrefix } from '../helpers/redis-server.js';
import { SmtpDialog, sendRaw } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

/** A message of numbered lines (about `size` bytes), so that a lost, doubled or reordered chunk shows. */
function numberedMessage(subject: string, size: number): string {
  const lines = Array.from({ length: Math.ceil(size / 20) }, (_, number) => `line ${String(number).padStart(12, '0')}`);
  return `From: sender@remote.test\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@remote.test>\r\n\r\n${lines.join('\r\n')}`;
}

describe('a message larger than the message buffer', () => {
  const fixture = withRelay({
    stores: ['store1'],
    config: { limits: { messageBuffer: '64kb', maxMessageSize: '8mb' } },
  });
  const { store1: store } = fixture.stores;
  /** The relay's key names (`'*'` for a pattern of them). */
  const keys = () => createKeys(fixture.relay.config.redis.prefix);

  it('is queued whole and delivered byte for byte, with its Message-ID in the trace', async () => {
    const { relay, redis } = fixture;
    const message = numberedMessage('large-one', 2_000_000);
    const replies = await sendRaw(relay.port, 'sender@remote.test', ['alice@example.com'], message);
    expect(replies.at(-1)).toMatch(/^250 2\.0\.0 /);
    await waitFor(() => store.delivered('alice@example.com').length === 1, 20_000, 'delivery');
    const delivered = store.delivered('alice@example.com')[0]!.body;
    expect(delivered.startsWith('Received: ')).toBe(true);
    expect(delivered.slice(delivered.indexOf('From: sender@remote.test'))).toBe(`${message}\r\n`);
    const accepted = relay.events('Reception').at(-1)!;
    expect(accepted.size).toBe(Buffer.byteLength(delivered));
    expect(await keysWithPrefix(redis.client, keys().incomingBody('*', '*'))).toEqual([]);
    expect(await redis.client.exists(keys().traceByMessageId('large-one@remote.test'))).toBe(1);
  });

  it('leaves nothing in Redis when the client disconnects halfway through', async () => {
    const { relay, redis } = fixture;
    const bodies = async () => keysWithPrefix(redis.client, keys().jobBody('*', '*'));
    const before = await bodies();
    const { dialog } = await SmtpDialog.open(relay.port);
    await dialog.command('EHLO client.test');
    await dialog.command('MAIL FROM:<sender@remote.test>');
    await dialog.command('RCPT TO:<alice@example.com>');
    expect(await dialog.command('DATA')).toMatch(/^354/);
    dialog.write(numberedMessage('cut-short', 1_000_000));
    await waitFor(
      async () => (await keysWithPrefix(redis.client, keys().incomingBody('*', '*'))).length > 0,
      10_000,
      'spooling',
    );
    dialog.close();
    await waitFor(() => relay.events('ReceptionFailed').some((record) => record.reason === 'disconnected'));
    await waitFor(
      async () => (await keysWithPrefix(redis.client, keys().incomingBody('*', '*'))).length === 0,
      5000,
      'partial body removed',
    );
    expect((await bodies()).filter((key) => !before.includes(key))).toEqual([]);
  });

  it('gets 452 4.3.1 when Redis runs out of memory while it arrives, and keeps none of it', async () => {
    const { relay, redis } = fixture;
    const used = Number(/used_memory:(\d+)/.exec(await redis.client.info('memory'))![1]);
    // Room for about a megabyte more: below the high-water mark at MAIL FROM, too little for the message.
    await redis.client.config('SET', 'maxmemory', String(used + 1_000_000));
    try {
      const replies = await sendRaw(
        relay.port,
        'sender@remote.test',
        ['alice@example.com'],
        numberedMessage('too-much', 6_000_000),
      );
      expect(replies[1]).toMatch(/^250 /);
      expect(replies.at(-1)).toMatch(/^452 4\.3\.1 /);
    } finally {
      await redis.client.config('SET', 'maxmemory', '0');
    }
    expect(await keysWithPrefix(redis.client, keys().incomingBody('*', '*'))).toEqual([]);
  });
});

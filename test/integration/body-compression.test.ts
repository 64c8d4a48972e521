// Scenario: queued bodies are kept gzip'd in Redis (redis.bodyCompression) and come out byte for byte.
import { describe, expect, it } from 'vitest';
import { sendRaw } from '../helpers/smtp-client.js';
import { withRelay } from '../helpers/with-relay.js';
import { createKeys } from '../../src/queue/keys.js';
import { isCompressed } from '../../src/queue/body-codec.js';
import { ApiClient } from '../../src/cli/client.js';

/** Text mail: lines of words, the kind that compresses. */
function textMessage(subject: string, lines: number): string {
  const text = Array.from({ length: lines }, (_, line) => `line ${line}: the quick brown fox jumps over the lazy dog`);
  return `From: sender@remote.test\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@remote.test>\r\n\r\n${text.join('\r\n')}`;
}

describe.each([
  { compression: 'gzip', compressed: true },
  { compression: 'none', compressed: false },
])('with redis.bodyCompression $compression', ({ compression, compressed }) => {
  const fixture = withRelay({ stores: ['store1'], config: { redis: { bodyCompression: compression } } });
  const { store1: store } = fixture.stores;

  it(`stores a held message's body ${compressed ? 'compressed' : 'as received'}, shows its headers, and delivers it byte for byte`, async () => {
    const { relay, redis } = fixture;
    const api = new ApiClient(`http://127.0.0.1:${relay.app.adminPort}`, undefined);
    await api.hold('store1', { reason: 'to look at the stored body', by: 'test' });
    const message = textMessage(`stored-${compression}`, 400);
    const replies = await sendRaw(relay.port, 'sender@remote.test', ['alice@example.com'], message);
    expect(replies.at(-1)).toMatch(/^250 2\.0\.0 /);
    const queueId = /queued as (\S+)/.exec(replies.at(-1)!)![1]!;

    const stored = await redis.client.getBuffer(createKeys(relay.config.redis.prefix).jobBody('store1', queueId));
    expect(stored).not.toBeNull();
    expect(isCompressed(stored!)).toBe(compressed);
    const received = Buffer.byteLength(message);
    if (compressed) expect(stored!.length).toBeLessThan(received / 3);
    else expect(stored!.length).toBeGreaterThan(received);

    const shown = await api.message(queueId);
    expect(shown.headers).toContain(`Subject: stored-${compression}`);

    await api.release('store1', { by: 'test' });
    await expect.poll(() => store.delivered('alice@example.com').length, { timeout: 10_000 }).toBe(1);
    const delivered = store.delivered('alice@example.com')[0]!.body;
    expect(delivered.startsWith('Received: ')).toBe(true);
    expect(delivered.slice(delivered.indexOf('From: sender@remote.test'))).toBe(`${message}\r\n`);
  });
});

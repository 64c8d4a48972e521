// The queued body codec: gzip or as received, told apart by the stored bytes themselves.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compress, decodeBody, encodeBody, isCompressed } from '../../../src/queue/body-codec.js';

const message = (bytes: number) =>
  Buffer.concat([
    Buffer.from('Received: from client.test\r\n\r\n'),
    Buffer.from(randomBytes(bytes).toString('base64')),
  ]);

describe('the stored body', () => {
  it.each([1000, 200_000])('comes back byte for byte from gzip, small and large (%i bytes)', async (bytes) => {
    const body = message(bytes);
    const stored = await encodeBody(body, 'gzip');
    expect(isCompressed(stored)).toBe(true);
    expect(stored.length).toBeLessThan(body.length);
    expect((await decodeBody(stored)).equals(body)).toBe(true);
  });

  it('is kept as received with compression none, and read back as it is', async () => {
    const body = message(1000);
    const stored = await encodeBody(body, 'none');
    expect(stored).toBe(body);
    expect(isCompressed(stored)).toBe(false);
    expect(await decodeBody(stored)).toBe(body);
  });

  it('tells a gzip stream from a message by its first two bytes only', () => {
    expect(isCompressed(Buffer.from([0x1f, 0x8b, 0x08]))).toBe(true);
    expect(isCompressed(Buffer.from('Received: x'))).toBe(false);
    expect(isCompressed(Buffer.from([0x1f]))).toBe(false);
    expect(isCompressed(Buffer.alloc(0))).toBe(false);
  });
});

describe('compressing a body read from a compressed one', () => {
  it('gives the stored bytes back instead of compressing again', async () => {
    const stored = await encodeBody(message(1000), 'gzip');
    const body = await decodeBody(stored);
    expect(await compress(body)).toBe(stored);
    expect(await compress(Buffer.from(body))).not.toBe(stored);
  });
});

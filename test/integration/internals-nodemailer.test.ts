// The contract of src/internals/nodemailer-pool.ts with nodemailer, against a real LMTP store: if
// the pool starts reading more of a message than Holdfast's prepared one gives, or changes the
// bytes, this fails.
import { afterEach, describe, expect, it } from 'vitest';
import { SMTPPool, sendRaw } from '../../src/internals/nodemailer-pool.js';
import { FakeMailstore } from '../helpers/mailstore.js';

describe("nodemailer's pool sending a prepared message", () => {
  let store: FakeMailstore | undefined;
  let pool: SMTPPool | undefined;
  afterEach(async () => {
    pool?.close();
    await store?.stop();
  });

  const open = async () => {
    store = new FakeMailstore('lmtp');
    const port = await store.start();
    pool = new SMTPPool({ host: '127.0.0.1', port, lmtp: true, pool: true, maxConnections: 2, logger: false });
    return pool;
  };

  it('sends the bytes exactly as they are, to the envelope given, and reports each recipient', async () => {
    const pool = await open();
    // Lines a MIME builder would touch: a long one, a dot at the start, no final newline.
    const body = Buffer.from(`Subject: as it is\r\nX-Long: ${'y'.repeat(1200)}\r\n\r\n.leading dot\r\nend`, 'latin1');

    const info = await sendRaw(pool, 'sender@remote.test', ['a@example.com', 'b@example.com'], body);

    expect(info.accepted).toEqual(['a@example.com', 'b@example.com']);
    expect(info.response).toMatch(/^250/);
    expect(store!.messages).toHaveLength(1);
    expect(store!.messages[0]).toMatchObject({ from: 'sender@remote.test', to: ['a@example.com', 'b@example.com'] });
    expect(store!.messages[0]!.body).toBe(`${body.toString('latin1')}\r\n`);
  });

  it("reports a recipient the store refused with the store's own reply", async () => {
    const pool = await open();
    store!.replyFor = (recipient) => (recipient.startsWith('gone@') ? '550 5.1.1 User unknown' : '250');

    const info = await sendRaw(
      pool,
      '',
      ['gone@example.com', 'here@example.com'],
      Buffer.from('Subject: x\r\n\r\nhi\r\n'),
    );

    expect(info.accepted).toEqual(['here@example.com']);
    expect(info.rejectedErrors).toEqual([
      expect.objectContaining({
        recipient: 'gone@example.com',
        response: expect.stringMatching(/^550 5\.1\.1/) as unknown,
      }),
    ]);
  });

  it('sends again on the same pool, each message with its own stream', async () => {
    const pool = await open();
    await Promise.all(
      ['one', 'two', 'three'].map((name) =>
        sendRaw(
          pool,
          'sender@remote.test',
          [`${name}@example.com`],
          Buffer.from(`Subject: ${name}\r\n\r\n${name}\r\n`),
        ),
      ),
    );
    expect(store!.messages.map((message) => message.to[0]).sort()).toEqual([
      'one@example.com',
      'three@example.com',
      'two@example.com',
    ]);
  });
});

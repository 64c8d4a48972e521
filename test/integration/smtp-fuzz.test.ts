// Scenario: property-based fuzzing of the SMTP front (fast-check). Random sessions of valid and
// invalid commands, pipelined and cut into random TCP writes, with DATA bodies full of bare CR/LF,
// dots and look-alike end-of-data sequences, against the real relay and a real Redis. Properties:
// the server always answers in well-formed replies and keeps taking new connections; the messages
// stored in Redis are exactly those whose DATA got a 250, only for local users, with CRLF only.
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countBareLineEndings } from '../../src/smtp/line-endings.js';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { freePort } from '../helpers/ports.js';
import { queuedIds, storedBody } from '../helpers/queued.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { SmtpDialog } from '../helpers/smtp-client.js';

const LOCAL_USERS = ['alice@example.com', 'carol@example.com'];

const address = fc.constantFrom(
  ...LOCAL_USERS,
  'nobody@example.com',
  'someone@elsewhere.test',
  '',
  'postmaster',
  'not an address',
  'a@b@c',
  `${'l'.repeat(70)}@example.com`,
  'ALICE@EXAMPLE.COM',
);

const command = fc.oneof(
  { weight: 3, arbitrary: address.map((to) => `RCPT TO:<${to}>`) },
  { weight: 2, arbitrary: address.map((from) => `MAIL FROM:<${from}>`) },
  {
    weight: 3,
    arbitrary: fc.constantFrom('EHLO fuzz.test', 'HELO fuzz.test', 'DATA', 'RSET', 'NOOP', 'STARTTLS'),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('BDAT 10 LAST', 'VRFY alice', 'HELP', '', 'EHLO', 'QUIT', 'MAIL FROM:<a@b> SIZE=x'),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);

/** A DATA body: pieces that are, or look like, line endings, dots, end-of-data and commands. */
const body = fc
  .array(
    fc.constantFrom(
      'Subject: fuzz',
      'text',
      '.',
      '..',
      '\r\n',
      '\n',
      '\r',
      '\r\n.\r\n',
      '\n.\n',
      '\r.\r',
      '\n.\r\n',
      'MAIL FROM:<smuggler@remote.test>',
      'RCPT TO:<carol@example.com>',
      'DATA',
      'x'.repeat(300),
    ),
    { maxLength: 20 },
  )
  .map((pieces) => pieces.join(''));

/** A whole transaction, pipelined: most end properly, some not at all (what follows is then content). */
const transaction = fc
  .record({
    from: address,
    to: fc.array(fc.oneof(fc.constantFrom(...LOCAL_USERS), address), { minLength: 1, maxLength: 4 }),
    body,
    end: fc.constantFrom('\r\n.\r\n', '\r\n.\r\n', '\r\n.\r\n', '\n.\n', ''),
  })
  .map(({ from, to, body, end }) =>
    [`MAIL FROM:<${from}>\r\n`, ...to.map((recipient) => `RCPT TO:<${recipient}>\r\n`), 'DATA\r\n', body, end].join(''),
  );

const step = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(command, fc.constantFrom('\r\n', '\r\n', '\n')).map(([line, end]) => line + end) },
  { weight: 3, arbitrary: transaction },
  { weight: 1, arbitrary: body },
);

const session = fc.record({
  steps: fc.array(step, { maxLength: 16 }),
  /** Sizes of the TCP writes the session is cut into. */
  writes: fc.array(fc.integer({ min: 1, max: 80 }), { maxLength: 20 }),
});

/** Plays the session on a fresh connection; resolves with everything the server said, once it closed. */
async function play(port: number, steps: string[], writes: number[]): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined); // the server may close while we still write
  let received = '';
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const greeted = new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  await greeted;
  // Whatever state the session ends in, this ends it: a DATA in progress, then the session.
  const data = Buffer.from(`EHLO fuzz.test\r\n${steps.join('')}\r\n.\r\nQUIT\r\n`, 'latin1');
  let offset = 0;
  for (const size of [...writes, data.length]) {
    if (offset >= data.length || socket.destroyed) break;
    await new Promise<void>((resolve) => socket.write(data.subarray(offset, offset + size), () => resolve()));
    offset += size;
  }
  const timeout = setTimeout(() => socket.destroy(new Error('the server never closed the session')), 20_000);
  await closed;
  clearTimeout(timeout);
  return received;
}

describe('the SMTP front under random input', () => {
  let redis: TestRedis;
  let relay: TestRelay;

  beforeAll(async () => {
    redis = await startTestRedis();
    relay = await startRelay(
      testConfig(redis.url, { store1: await freePort() }, { limits: { maxRecipients: 3, maxMessageSize: '4kb' } }),
    );
  });

  afterAll(async () => {
    await relay?.stop();
    await redis?.cleanup();
  });

  it('stores exactly the messages whose DATA got a 250, for local users only, with CRLF only, and never stops answering', async () => {
    let sessions = 0;
    let stored = 0;
    await fc.assert(
      // A few sessions at once: more input per run, and sessions interleaving as they do on an MX.
      fc.asyncProperty(fc.array(session, { minLength: 1, maxLength: 3 }), async (concurrent) => {
        const before = await queuedIds(relay, redis.client);
        const transcripts = await Promise.all(concurrent.map(({ steps, writes }) => play(relay.port, steps, writes)));
        sessions += concurrent.length;
        const lines = transcripts.flatMap((transcript) => transcript.split('\r\n')).filter((line) => line !== '');
        expect(lines.filter((line) => !/^\d{3}[ -]/.test(line))).toEqual([]);
        const acknowledged = lines.flatMap((line) => /^250 2\.0\.0 Ok: queued as (\S+)$/.exec(line)?.[1] ?? []);
        const added = (await queuedIds(relay, redis.client)).filter((id) => !before.includes(id));
        expect(added).toEqual(acknowledged.sort());
        for (const queueId of added) {
          const reception = relay.events('Reception').find((record) => record.queueId === queueId);
          const recipients = (reception?.recipients as string[]).map((recipient) => recipient.toLowerCase());
          expect(LOCAL_USERS).toEqual(expect.arrayContaining(recipients));
          expect(countBareLineEndings(await storedBody(relay, redis.client, queueId))).toBe(0);
        }
        stored += added.length;
      }),
      { numRuns: 100 },
    );
    // Each run greets a fresh connection first, so the server answered throughout; and after the last:
    const { dialog, greeting } = await SmtpDialog.open(relay.port);
    dialog.close();
    expect(greeting).toMatch(/^220 /);
    // The generator reaches the interesting part: sessions that did store mail.
    expect(sessions).toBeGreaterThan(100);
    expect(stored).toBeGreaterThan(20);
  }, 180_000);
});

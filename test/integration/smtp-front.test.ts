// Scenario: the SMTP front's replies to good and bad input, its extensions, TLS and shutdown.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { SmtpDialog, queueIdOf, sendRaw, testMessage } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';

describe('the SMTP front', () => {
  let redis: TestRedis;
  let relay: TestRelay;
  let certificates: string;
  const store = new FakeMailstore();

  beforeAll(async () => {
    redis = await startTestRedis();
    certificates = mkdtempSync(join(tmpdir(), 'holdfast-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=mx.test',
      '-keyout', join(certificates, 'key.pem'), '-out', join(certificates, 'cert.pem'),
    ], { stdio: 'ignore' }); // prettier-ignore
    const config = testConfig(
      redis.url,
      { store1: await store.start() },
      {
        listener: { tls: { key: join(certificates, 'key.pem'), cert: join(certificates, 'cert.pem') } },
        limits: { maxMessageSize: '20kb', maxRecipients: 3 },
      },
    );
    relay = await startRelay(config);
  });

  afterAll(async () => {
    await relay?.stop();
    await store.stop();
    await redis?.cleanup();
    rmSync(certificates, { recursive: true, force: true });
  });

  it('advertises PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES and STARTTLS', async () => {
    const { dialog, greeting } = await SmtpDialog.open(relay.port);
    expect(greeting).toMatch(/^220 mx\.test /);
    const ehlo = await dialog.command('EHLO client.test');
    for (const extension of ['PIPELINING', 'SIZE 20480', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'STARTTLS']) {
      expect(ehlo.split('\r\n')).toContainEqual(expect.stringMatching(new RegExp(`^250[- ]${extension}$`)));
    }
    expect(ehlo).not.toContain('AUTH');
    dialog.close();
  });

  it('answers 250 2.0.0 with the queue id, which the Received header carries', async () => {
    const replies = await sendRaw(relay.port, 'sender@remote.test', ['alice@example.com'], testMessage('queued'));
    const final = replies.at(-1)!;
    expect(final).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-Z]{17}$/);
    const queueId = queueIdOf(final);
    await waitFor(() => store.messages.some((message) => message.body.includes(queueId)));
    const body = store.messages.find((message) => message.body.includes(queueId))!.body;
    expect(body).toMatch(
      new RegExp(
        `^Received: from client\\.test \\(.*\\[127\\.0\\.0\\.1\\]\\)\\r\\n\\tby mx\\.test \\(Holdfast\\) with ESMTP id ${queueId}\\r\\n\\tfor <alice@example\\.com>; `,
      ),
    );
  });

  it('refuses a non-local domain with 550 5.7.1: never an open relay', async () => {
    const replies = await sendRaw(relay.port, 'sender@remote.test', ['someone@elsewhere.test'], testMessage('relay'));
    expect(replies[2]).toMatch(/^550 5\.7\.1 /);
    expect(replies[3]).toMatch(/^503 5\.5\.1 /); // DATA without any accepted recipient
  });

  it('refuses an unknown user of a validating domain with 550 5.1.1', async () => {
    const replies = await sendRaw(
      relay.port,
      'sender@remote.test',
      ['nobody@example.com', 'alice@example.com'],
      testMessage('unknown'),
    );
    expect(replies[2]).toMatch(/^550 5\.1\.1 /);
    expect(replies[3]).toMatch(/^250 /);
    expect(replies.at(-1)).toMatch(/^250 2\.0\.0 /);
  });

  it('refuses recipients over the limit with 452 4.5.3', async () => {
    const to = ['alice@example.com', 'carol@example.com', 'alice@example.com', 'carol@example.com'];
    const { dialog } = await SmtpDialog.open(relay.port);
    await dialog.command('EHLO client.test');
    await dialog.command('MAIL FROM:<sender@remote.test>');
    const replies = [];
    for (const recipient of to) replies.push(await dialog.command(`RCPT TO:<${recipient}>`));
    dialog.close();
    expect(replies.slice(0, 3).every((reply) => reply.startsWith('250'))).toBe(true);
    expect(replies[3]).toMatch(/^452 4\.5\.3 /);
  });

  it('refuses an oversize message with 552 and stores nothing', async () => {
    const before = relay.events('Reception').length;
    const replies = await sendRaw(relay.port, 'sender@remote.test', ['alice@example.com'], testMessage('big', 40_000));
    expect(replies.at(-1)).toMatch(/^552 5\.3\.4 /);
    expect(relay.events('Reception')).toHaveLength(before);
  });

  it('leaves nothing behind when the client disconnects in the middle of DATA', async () => {
    // Earlier tests' messages may finish meanwhile: look for keys this message would have added.
    const messageKeys = async () => {
      const prefix = relay.config.redis.prefix;
      const kinds = ['msg', 'body', 'incoming', 'pending'];
      return (await Promise.all(kinds.map((kind) => redis.client.keys(`${prefix}:${kind}:*`)))).flat();
    };
    const before = new Set(await messageKeys());
    const { dialog } = await SmtpDialog.open(relay.port);
    await dialog.command('EHLO client.test');
    await dialog.command('MAIL FROM:<sender@remote.test>');
    await dialog.command('RCPT TO:<alice@example.com>');
    expect(await dialog.command('DATA')).toMatch(/^354/);
    dialog.write('Subject: cut short\r\n\r\nhalf a mess');
    dialog.close();
    await waitFor(() => relay.events('ReceptionFailed').some((record) => record.reason === 'disconnected'));
    expect((await messageKeys()).filter((key) => !before.has(key))).toEqual([]);
  });

  it('upgrades to TLS with STARTTLS using the configured certificate', async () => {
    const { dialog } = await SmtpDialog.open(relay.port);
    await dialog.command('EHLO client.test');
    expect(await dialog.command('STARTTLS')).toMatch(/^220 /);
    const socket = (dialog as unknown as { socket: import('node:net').Socket }).socket;
    socket.removeAllListeners('data');
    const secure = tlsConnect({ socket, rejectUnauthorized: false, servername: 'mx.test' });
    await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    expect(secure.getPeerCertificate().subject.CN).toBe('mx.test');
    expect(['TLSv1.2', 'TLSv1.3']).toContain(secure.getProtocol());
    secure.destroy();
  });
});

describe('connection limits', () => {
  let redis: TestRedis;
  let relay: TestRelay;

  beforeAll(async () => {
    redis = await startTestRedis();
    relay = await startRelay(
      testConfig(redis.url, { store1: 1 }, { limits: { connections: { perIp: 2, total: 10 } } }),
    );
  });

  afterAll(async () => {
    await relay?.stop();
    await redis?.cleanup();
  });

  it('answers 421 4.7.0 to a client over its per-address limit, and lets it in again once one closes', async () => {
    const first = await SmtpDialog.open(relay.port);
    const second = await SmtpDialog.open(relay.port);
    expect(second.greeting).toMatch(/^220 /);
    const third = await SmtpDialog.open(relay.port);
    expect(third.greeting).toMatch(/^421 4\.7\.0 /);
    third.dialog.close();
    await first.dialog.command('QUIT');
    first.dialog.close();
    await waitFor(async () => {
      const again = await SmtpDialog.open(relay.port);
      again.dialog.close();
      return again.greeting.startsWith('220');
    });
    second.dialog.close();
  });
});

describe('message and recipient rates per client', () => {
  let redis: TestRedis;
  let messageLimited: TestRelay;
  let recipientLimited: TestRelay;

  beforeAll(async () => {
    redis = await startTestRedis();
    messageLimited = await startRelay(
      testConfig(redis.url, { store1: 1 }, { limits: { connections: { messageRatePerIp: 2 } } }),
    );
    recipientLimited = await startRelay(
      testConfig(redis.url, { store1: 1 }, { limits: { connections: { recipientRatePerIp: 3 } } }),
    );
  });

  afterAll(async () => {
    await messageLimited?.stop();
    await recipientLimited?.stop();
    await redis?.cleanup();
  });

  it("defers a client's third message in a minute with 450 4.7.1 at MAIL FROM, even on a new connection", async () => {
    const replies = [];
    const first = await SmtpDialog.open(messageLimited.port);
    await first.dialog.command('EHLO client.test');
    replies.push(await first.dialog.command('MAIL FROM:<sender@remote.test>'));
    await first.dialog.command('RSET');
    replies.push(await first.dialog.command('MAIL FROM:<sender@remote.test>'));
    first.dialog.close();
    const second = await SmtpDialog.open(messageLimited.port);
    await second.dialog.command('EHLO client.test');
    replies.push(await second.dialog.command('MAIL FROM:<sender@remote.test>'));
    second.dialog.close();
    expect(replies.map((reply) => reply.slice(0, 9))).toEqual(['250 2.1.0', '250 2.1.0', '450 4.7.1']);
    expect(messageLimited.events('Rejection').at(-1)).toMatchObject({ stage: 'mail', reason: 'message-rate' });
  });

  it("defers a client's recipients over its rate with 450 4.7.1 and keeps the ones before", async () => {
    const { dialog } = await SmtpDialog.open(recipientLimited.port);
    await dialog.command('EHLO client.test');
    await dialog.command('MAIL FROM:<sender@remote.test>');
    const to = ['alice@example.com', 'carol@example.com', 'alice@example.com', 'carol@example.com'];
    const replies = [];
    for (const recipient of to) replies.push(await dialog.command(`RCPT TO:<${recipient}>`));
    dialog.close();
    expect(replies.slice(0, 3).every((reply) => reply.startsWith('250'))).toBe(true);
    expect(replies[3]).toMatch(/^450 4\.7\.1 /);
    expect(recipientLimited.events('Rejection').at(-1)).toMatchObject({ stage: 'rcpt', reason: 'recipient-rate' });
  });
});

// Scenario: STARTTLS at the SMTP front: plaintext pipelined after STARTTLS is discarded, nothing said
// before TLS survives it, the minimum TLS version and the ciphers are the configured ones, and
// without a certificate of Holdfast's own there is no STARTTLS at all.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { freePort } from '../helpers/ports.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { SmtpDialog } from '../helpers/smtp-client.js';

/** A TLS 1.1 client; OpenSSL 3 needs security level 0 for anything older than 1.2. */
const TLS_1_1_CLIENT = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;

async function startTls(port: number, options: Parameters<SmtpDialog['startTls']>[0] = {}) {
  const { dialog } = await SmtpDialog.open(port);
  await dialog.command('EHLO client.test');
  expect(await dialog.command('STARTTLS')).toMatch(/^220 /);
  return dialog.startTls(options);
}

describe('STARTTLS', () => {
  let redis: TestRedis;
  let certificates: string;
  const relays: TestRelay[] = [];
  let relay: TestRelay;
  let relayWith: (listener: Record<string, unknown>) => Promise<TestRelay>;

  beforeAll(async () => {
    redis = await startTestRedis();
    certificates = mkdtempSync(join(tmpdir(), 'holdfast-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=mx.test',
      '-keyout', join(certificates, 'key.pem'), '-out', join(certificates, 'cert.pem'),
    ], { stdio: 'ignore' }); // prettier-ignore
    const tls = { key: join(certificates, 'key.pem'), cert: join(certificates, 'cert.pem') };
    const stores = { store1: await freePort() };
    relayWith = async (listener) => {
      const started = await startRelay(testConfig(redis.url, stores, { listener }));
      relays.push(started);
      return started;
    };
    relay = await relayWith({ tls });
  });

  afterAll(async () => {
    for (const started of relays) await started.stop();
    await redis?.cleanup();
    rmSync(certificates, { recursive: true, force: true });
  });

  const tlsFiles = () => ({ key: join(certificates, 'key.pem'), cert: join(certificates, 'cert.pem') });

  it('discards plaintext commands pipelined after STARTTLS: they never run inside TLS', async () => {
    const { dialog } = await SmtpDialog.open(relay.port);
    await dialog.command('EHLO client.test');
    dialog.write('STARTTLS\r\nEHLO injected.test\r\nMAIL FROM:<injected@remote.test>\r\n');
    expect(await dialog.reply()).toMatch(/^220 /);
    const secure = await dialog.startTls();
    // Had the injected EHLO and MAIL run, this RCPT would be accepted.
    expect(await secure.command('RCPT TO:<alice@example.com>')).toMatch(/^503 5\.5\.1 Error: send HELO\/EHLO first/);
    expect(await secure.command('EHLO client.test')).toMatch(/^250/);
    expect(await secure.command('RCPT TO:<alice@example.com>')).toMatch(/^503 5\.5\.1 Error: need MAIL command/);
    expect(dialog.unread).toBe(''); // and no plaintext reply to them either
    secure.close();
  });

  it('forgets the transaction begun before STARTTLS', async () => {
    const { dialog } = await SmtpDialog.open(relay.port);
    await dialog.command('EHLO client.test');
    expect(await dialog.command('MAIL FROM:<sender@remote.test>')).toMatch(/^250/);
    expect(await dialog.command('STARTTLS')).toMatch(/^220 /);
    const secure = await dialog.startTls();
    await secure.command('EHLO client.test');
    expect(await secure.command('RCPT TO:<alice@example.com>')).toMatch(/^503 5\.5\.1 Error: need MAIL command/);
    expect(await secure.command('STARTTLS')).toMatch(/^503 5\.5\.1 Error: TLS already active/);
    secure.close();
  });

  it('refuses a TLS 1.1 client with the default listener.tls.minVersion (TLSv1.2)', async () => {
    await expect(startTls(relay.port, TLS_1_1_CLIENT)).rejects.toThrow(/protocol version/i);
  });

  it('takes a TLS 1.1 client when minVersion and ciphers allow it: both settings reach the listener', async () => {
    const old = await relayWith({ tls: { ...tlsFiles(), minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' } });
    const secure = await startTls(old.port, TLS_1_1_CLIENT);
    expect(await secure.command('EHLO client.test')).toMatch(/^250/);
    secure.close();
  });

  it('negotiates only the configured ciphers, and refuses a client offering none of them', async () => {
    const strict = await relayWith({ tls: { ...tlsFiles(), ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' } });
    const client = { maxVersion: 'TLSv1.2' } as const;
    const secure = await startTls(strict.port, client);
    expect((secure as unknown as { socket: import('node:tls').TLSSocket }).socket.getCipher().name).toBe(
      'ECDHE-RSA-AES128-GCM-SHA256',
    );
    secure.close();
    await expect(startTls(strict.port, { ...client, ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' })).rejects.toThrow(
      /handshake failure/i,
    );
  });

  it('offers no STARTTLS without listener.tls, and refuses the command (no built-in test certificate)', async () => {
    const plain = await relayWith({});
    const { dialog } = await SmtpDialog.open(plain.port);
    expect(await dialog.command('EHLO client.test')).not.toContain('STARTTLS');
    expect(await dialog.command('STARTTLS')).toMatch(/^500 5\.5\.2 Error: command not recognized/);
    dialog.close();
  });
});

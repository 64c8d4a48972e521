// Scenario: one node listening on several addresses, each with its own STARTTLS and PROXY settings,
// one of them dual-stack (`::`, IPv4 and IPv6 alike).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { SmtpDialog, queueIdOf } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

const certificates = mkdtempSync(join(tmpdir(), 'holdfast-listeners-'));
const KEY = join(certificates, 'key.pem');
const CERT = join(certificates, 'cert.pem');
execFileSync('openssl', [
  'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=mx.test', '-keyout', KEY, '-out', CERT,
], { stdio: 'ignore' }); // prettier-ignore

describe('a node with several listeners', () => {
  const fixture = withRelay({
    stores: ['store1'],
    config: {
      listeners: [
        { host: '::', port: 0 },
        { host: '127.0.0.1', port: 0, tls: { key: KEY, cert: CERT } },
        { host: '127.0.0.1', port: 0, proxyProtocol: { enabled: true } },
      ],
    },
  });
  afterAll(() => rmSync(certificates, { recursive: true, force: true }));
  const ports = () => fixture.relay.app.smtpPorts;

  /** EHLO's reply on a connection to `host`:`port`, after the PROXY header `preface` if given. */
  async function ehlo(port: number, host = '127.0.0.1', preface?: string): Promise<string> {
    const { dialog } = await SmtpDialog.open(port, { host, ...(preface ? { preface: Buffer.from(preface) } : {}) });
    try {
      return await dialog.command('EHLO client.test');
    } finally {
      dialog.close();
    }
  }

  it('listens on every address given, in order', () => {
    expect(ports()).toHaveLength(3);
    expect(new Set(ports()).size).toBe(3);
    expect(fixture.relay.port).toBe(ports()[0]);
  });

  it('takes mail over IPv6 and IPv4 on a dual-stack listener, and logs each client as it is', async () => {
    for (const host of ['::1', '127.0.0.1']) {
      const { dialog } = await SmtpDialog.open(ports()[0]!, { host });
      for (const line of ['EHLO client.test', 'MAIL FROM:<sender@remote.test>', 'RCPT TO:<alice@example.com>'])
        expect(await dialog.command(line)).toMatch(/^250/);
      expect(await dialog.command('DATA')).toMatch(/^354/);
      dialog.write(`Subject: over ${host}\r\n\r\nHello.\r\n.\r\n`);
      const queueId = queueIdOf(await dialog.reply());
      dialog.close();
      await waitFor(() => fixture.relay.events('Reception').some((record) => record.queueId === queueId));
      const reception = fixture.relay.events('Reception').find((record) => record.queueId === queueId);
      expect(reception?.client).toBe(host);
    }
  });

  it('offers STARTTLS only where a certificate is given', async () => {
    expect(await ehlo(ports()[0]!)).not.toContain('STARTTLS');
    expect(await ehlo(ports()[1]!)).toContain('STARTTLS');
  });

  it('wants a PROXY header only where the PROXY protocol is on', async () => {
    const { dialog } = await SmtpDialog.open(ports()[2]!, {
      preface: Buffer.from('PROXY TCP4 192.0.2.7 192.0.2.1 4000 25\r\n'),
    });
    expect(await dialog.command('EHLO client.test')).toMatch(/^250/);
    dialog.close();
    expect(fixture.relay.events('ProxyRefused')).toHaveLength(0);
    // Without the header, that listener drops the connection; the others take it as usual.
    const bare = connect(ports()[2]!, '127.0.0.1');
    bare.write('EHLO client.test\r\n');
    await waitFor(() => fixture.relay.events('ProxyRefused').length === 1, 10_000, 'the refusal');
    bare.destroy();
    expect(await ehlo(ports()[1]!)).toMatch(/^250/);
  });
});

describe('the listeners setting', () => {
  it('is refused beside the addresses of listener, naming each one to move', () => {
    const result = validateConfig(
      {
        listener: { host: '0.0.0.0', port: 25 },
        listeners: [{ host: '::', port: 25 }],
        domains: { 'example.com': { mailstore: 'store1' } },
        mailstores: { store1: { endpoints: ['127.0.0.1:24'] } },
      },
      { baseDirectory: process.cwd() },
    );
    expect(result.ok ? [] : result.problems).toEqual([
      'listener.host: with listeners, set it for each address in listeners',
      'listener.port: with listeners, set it for each address in listeners',
    ]);
  });
});

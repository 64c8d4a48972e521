// Scenario: the listener's certificate renewed under a running relay (its files replaced, as certbot
// does, or read again on SIGHUP): new sessions get the new one, open sessions go on, a bad pair is refused.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

const dir = mkdtempSync(join(tmpdir(), 'holdfast-tls-reload-'));
const KEY = join(dir, 'key.pem');
const CERT = join(dir, 'cert.pem');

/** A self-signed pair for `name`, in files of its own; returns their paths. */
function makePair(name: string): { key: string; cert: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`,
    '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' }); // prettier-ignore
  return { key, cert };
}

/** Puts a pair in place as a renewal does: each file written beside and renamed over the old one. */
function install(pair: { key: string; cert: string }): void {
  for (const [from, to] of [
    [pair.key, KEY],
    [pair.cert, CERT],
  ] as const) {
    writeFileSync(`${to}.new`, readFileSync(from));
    renameSync(`${to}.new`, to);
  }
}

/** A session in TLS after STARTTLS; the certificate's CN, and a way to send a command in it. */
async function tlsSession(
  port: number,
): Promise<{ name: string; command(line: string): Promise<string>; close(): void }> {
  const plain: Socket = connect(port, '127.0.0.1');
  await once(plain, 'connect');
  let buffer = '';
  const until = async (socket: Socket | TLSSocket, done: (text: string) => boolean) => {
    while (!done(buffer)) buffer += String((await once(socket, 'data'))[0]);
    const text = buffer;
    buffer = '';
    return text;
  };
  plain.setEncoding('latin1');
  await until(plain, (text) => /^220 /m.test(text));
  plain.write('EHLO client.test\r\n');
  await until(plain, (text) => /^250 /m.test(text));
  plain.write('STARTTLS\r\n');
  await until(plain, (text) => /^220 /m.test(text));
  plain.removeAllListeners('data');
  const secure = tlsConnect({ socket: plain, rejectUnauthorized: false, servername: 'mx.test' });
  await once(secure, 'secureConnect');
  secure.setEncoding('latin1');
  const name = String(secure.getPeerCertificate().subject.CN);
  return {
    name,
    command: async (line) => {
      secure.write(`${line}\r\n`);
      return (await until(secure, (text) => /^\d{3} /m.test(text))).trimEnd();
    },
    close: () => secure.destroy(),
  };
}

const first = makePair('first.mx.test');
install(first);

describe('the listener certificate renewed under a running relay', () => {
  const fixture = withRelay({
    stores: ['store1'],
    config: { listener: { tls: { key: KEY, cert: CERT, checkInterval: '200ms' } } },
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives new sessions the new certificate once its files change, and open sessions go on with theirs', async () => {
    const { relay } = fixture;
    const open = await tlsSession(relay.port);
    expect(open.name).toBe('first.mx.test');
    install(makePair('second.mx.test'));
    await waitFor(() => relay.events('CertificateReloaded').length === 1, 10_000, 'the reload');
    const next = await tlsSession(relay.port);
    expect(next.name).toBe('second.mx.test');
    next.close();
    // The session opened before the renewal is not touched.
    expect(await open.command('EHLO client.test')).toMatch(/^250[ -]/);
    expect(await open.command('MAIL FROM:<sender@remote.test>')).toMatch(/^250 /);
    open.close();
  });

  it("refuses a key that is not the certificate's, says so in the log, and keeps the pair in use", async () => {
    const { relay } = fixture;
    const third = makePair('third.mx.test');
    const fourth = makePair('fourth.mx.test');
    install({ key: third.key, cert: fourth.cert });
    await waitFor(() => relay.events('CertificateRefused').length >= 1, 10_000, 'the refusal');
    expect(relay.events('CertificateRefused')[0]).toMatchObject({ level: 'error' });
    const session = await tlsSession(relay.port);
    expect(session.name).toBe('second.mx.test');
    session.close();
    // The renewal's second file arrives: the pair is whole again and taken.
    install(fourth);
    await waitFor(
      async () => {
        const next = await tlsSession(relay.port);
        next.close();
        return next.name === 'fourth.mx.test';
      },
      10_000,
      'the whole pair taken',
    );
  });

  it('reads the files at once when told to (what SIGHUP does)', async () => {
    const { relay } = fixture;
    install(makePair('fifth.mx.test'));
    await relay.app.reload();
    const session = await tlsSession(relay.port);
    expect(session.name).toBe('fifth.mx.test');
    session.close();
  });
});

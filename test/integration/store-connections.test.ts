// Scenario: Holdfast talks to each store the way that store listens: LMTP AUTH, a unix socket, STARTTLS or implicit TLS verified against a CA.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';

const CREDENTIALS = { user: 'holdfast', pass: 's3cret-for-lmtp' };

describe('connections to the stores', () => {
  let redis: TestRedis;
  let relay: TestRelay;
  let dir: string;
  let stores: Record<string, FakeMailstore>;

  beforeAll(async () => {
    redis = await startTestRedis();
    dir = mkdtempSync(join(tmpdir(), 'holdfast-stores-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' }); // prettier-ignore
    const tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
    writeFileSync(join(dir, 'lmtp.pass'), `${CREDENTIALS.pass}\n`);
    const socketPath = join(dir, 'lmtp.sock');
    stores = {
      auth: new FakeMailstore('lmtp', { auth: CREDENTIALS }),
      socket: new FakeMailstore('lmtp', { auth: CREDENTIALS, socketPath }),
      starttls: new FakeMailstore('lmtp', { tls }),
      implicit: new FakeMailstore('lmtp', { tls: { ...tls, implicit: true } }),
      untrusted: new FakeMailstore('lmtp', { tls }),
      plaintext: new FakeMailstore('lmtp'),
      badpass: new FakeMailstore('lmtp', { auth: CREDENTIALS }),
      noauth: new FakeMailstore('lmtp', { auth: CREDENTIALS }),
    };
    const ports: Record<string, number> = {};
    for (const [id, store] of Object.entries(stores)) ports[id] = await store.start();
    const users = Object.fromEntries(Object.keys(stores).map((id) => [`${id}@example.com`, id]));
    const ca = join(dir, 'cert.pem');
    relay = await startRelay(
      testConfig(redis.url, ports, {
        routing: { users },
        mailstores: {
          auth: { auth: { user: CREDENTIALS.user, pass: CREDENTIALS.pass } },
          socket: {
            endpoints: [`unix:${socketPath}`],
            auth: { user: CREDENTIALS.user, passFile: join(dir, 'lmtp.pass') },
          },
          starttls: { tls: { mode: 'starttls', ca } },
          implicit: { tls: { mode: 'implicit', ca } },
          untrusted: { tls: { mode: 'starttls' } },
          plaintext: { tls: { mode: 'starttls', ca } },
          badpass: { auth: { user: CREDENTIALS.user, pass: 'not-the-password' } },
          noauth: { trip: { failures: 2 } },
        },
      }),
    );
  });

  afterAll(async () => {
    await relay?.stop();
    await Promise.all(Object.values(stores ?? {}).map((store) => store.stop()));
    await redis?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('authenticates with the password from the config, and with the one from a file over a unix socket', async () => {
    expect(await send(relay.port, 'sender@remote.test', ['auth@example.com'], 'with auth')).toMatch(/^250 /);
    expect(await send(relay.port, 'sender@remote.test', ['socket@example.com'], 'over the socket')).toMatch(/^250 /);
    await waitFor(() => stores.auth!.messages.length === 1 && stores.socket!.messages.length === 1, 10_000);
    expect(stores.auth!.authenticatedAs).toEqual([CREDENTIALS.user]);
    expect(stores.socket!.authenticatedAs).toEqual([CREDENTIALS.user]);
    expect(JSON.stringify(relay.logs)).not.toContain(CREDENTIALS.pass);
  });

  it('delivers over STARTTLS and over implicit TLS, each certificate verified against the CA given', async () => {
    expect(await send(relay.port, 'sender@remote.test', ['starttls@example.com'], 'starttls')).toMatch(/^250 /);
    expect(await send(relay.port, 'sender@remote.test', ['implicit@example.com'], 'implicit')).toMatch(/^250 /);
    await waitFor(() => stores.starttls!.messages.length === 1 && stores.implicit!.messages.length === 1, 10_000);
  });

  it.each(['untrusted', 'plaintext', 'badpass'])(
    'keeps the mail of a store it cannot set a connection up with (%s), and neither delivers nor bounces it',
    async (store) => {
      expect(await send(relay.port, 'sender@remote.test', [`${store}@example.com`], 'set-up fails')).toMatch(/^250 /);
      await waitFor(() => relay.events('TransientFailure').some((record) => record.mailstore === store), 10_000);
      expect(stores[store]!.messages).toHaveLength(0);
      expect(relay.events('PermanentFailure').filter((record) => record.mailstore === store)).toEqual([]);
    },
  );

  it('keeps the mail of a store that asks for authentication it was not given, and says what to set', async () => {
    expect(await send(relay.port, 'sender@remote.test', ['noauth@example.com'], 'no credentials')).toMatch(/^250 /);
    await waitFor(async () => {
      const status = (await relay.app.mailstoreAdmin!.status()).find((store) => store.mailstore === 'noauth');
      return status?.lastError?.error.includes('set the mailstore') === true;
    }, 15_000);
    const deferred = relay.logs.filter((record) => record.mailstore === 'noauth' && record.level === 'error');
    // smtp-server answers 530 itself; Cyrus's lmtpd answers 430 (both are the same case to Holdfast).
    expect(deferred[0]).toMatchObject({ reply: expect.stringMatching(/^(430|530) .*uthentication/) as unknown });
    expect(String(deferred[0]!.msg)).toContain('passFile');
    expect(stores.noauth!.messages).toHaveLength(0);
    expect(relay.events('Bounce')).toEqual([]);
  });
});

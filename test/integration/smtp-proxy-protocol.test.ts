// Scenario: Holdfast behind a load balancer speaking the PROXY protocol (v1 and v2): the real client
// address is what the session, the logs, the Received header and the per-address limits see; a
// connection without a valid header, or from a peer that is not a trusted proxy, is dropped.
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { freePort } from '../helpers/ports.js';
import { proxyV1, proxyV2 } from '../helpers/proxy-header.js';
import { storedBody } from '../helpers/queued.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { SmtpDialog, queueIdOf } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';

describe('the PROXY protocol', () => {
  let redis: TestRedis;
  let relay: TestRelay;

  beforeAll(async () => {
    redis = await startTestRedis();
    relay = await startRelay(
      testConfig(
        redis.url,
        { store1: await freePort() }, // down: accepted mail stays in Redis to be looked at
        {
          listener: { proxyProtocol: { enabled: true, trustedProxies: ['127.0.0.1', '10.0.0.0/8'] } },
          limits: { connections: { perIp: 2 }, timeouts: { socket: '2s' } },
        },
      ),
    );
  });

  afterAll(async () => {
    await relay?.stop();
    await redis?.cleanup();
  });

  /** Sends one message through a proxied connection; returns its queue id. */
  async function sendThrough(header: Buffer): Promise<string> {
    const { dialog, greeting } = await SmtpDialog.open(relay.port, { preface: header });
    expect(greeting).toMatch(/^220 /);
    for (const command of ['EHLO client.test', 'MAIL FROM:<sender@remote.test>', 'RCPT TO:<alice@example.com>', 'DATA'])
      await dialog.command(command);
    dialog.write('Subject: proxied\r\n\r\nhello\r\n.\r\n');
    const queueId = queueIdOf(await dialog.reply());
    dialog.close();
    return queueId;
  }

  it.each([
    ['v1 TCP4', proxyV1('203.0.113.7'), '203.0.113.7'],
    ['v1 TCP6', proxyV1('2001:db8::7'), '2001:db8::7'],
    ['v2 TCP over IPv4', proxyV2('203.0.113.8'), '203.0.113.8'],
    [
      'v2 TCP over IPv6, with TLVs',
      proxyV2('2001:db8::8', 40000, { tlv: Buffer.from([0x04, 0x00, 0x02, 0x61, 0x62]) }),
      '2001:db8::8',
    ],
  ])('takes the client address of a %s header into the Received header and the log', async (_kind, header, client) => {
    const queueId = await sendThrough(header);
    const body = (await storedBody(relay, redis.client, queueId)).toString('latin1');
    expect(body).toMatch(new RegExp(`^Received: from client\\.test \\(.*\\[${client.replace(/\./g, '\\.')}\\]\\)`));
    expect(relay.events('Reception').find((record) => record.queueId === queueId)).toMatchObject({ client });
  });

  it('takes a header that arrives in pieces', async () => {
    const header = proxyV2('203.0.113.9');
    const socket = connect(relay.port, '127.0.0.1');
    const greeting = new Promise<string>((resolve) =>
      socket.once('data', (chunk: Buffer) => resolve(chunk.toString())),
    );
    await new Promise((resolve) => socket.once('connect', resolve));
    for (const piece of [header.subarray(0, 5), header.subarray(5, 14), header.subarray(14)]) {
      socket.write(piece);
      await sleep(50);
    }
    expect(await greeting).toMatch(/^220 /);
    socket.destroy();
  });

  /** Opens one session through the proxy per client, in turn; the start of each greeting. */
  async function greetingsFor(clients: string[]): Promise<string[]> {
    const sessions = [];
    for (const client of clients) sessions.push(await SmtpDialog.open(relay.port, { preface: proxyV1(client) }));
    for (const session of sessions) session.dialog.close();
    return sessions.map((session) => session.greeting.slice(0, 9));
  }

  it('counts the per-address connection limit on the real client, not on the proxy', async () => {
    const greetings = await greetingsFor(['198.51.100.1', '198.51.100.1', '198.51.100.1', '198.51.100.2']);
    expect(greetings).toEqual(['220 mx.te', '220 mx.te', '421 4.7.0', '220 mx.te']);
    expect(relay.events('Rejection').at(-1)).toMatchObject({ stage: 'connect', client: '198.51.100.1' });
  });

  it('counts IPv6 clients by their /64: a third address of the same /64 is over the limit, another /64 is not', async () => {
    const greetings = await greetingsFor([
      '2001:db8:5:6::1',
      '2001:db8:5:6::2',
      '2001:db8:5:6:ffff::3',
      '2001:db8:5:7::1',
    ]);
    expect(greetings).toEqual(['220 mx.te', '220 mx.te', '421 4.7.0', '220 mx.te']);
    expect(relay.events('Rejection').at(-1)).toMatchObject({ stage: 'connect', client: '2001:db8:5:6:ffff::3' });
  });

  it('answers a LOCAL header (the balancer health check) as a session of the proxy itself', async () => {
    const { dialog, greeting } = await SmtpDialog.open(relay.port, {
      preface: proxyV2('203.0.113.7', 1, { command: 'LOCAL' }),
    });
    expect(greeting).toMatch(/^220 /);
    expect(await dialog.command('QUIT')).toMatch(/^221 /);
    dialog.close();
  });

  it.each([
    ['plain SMTP without a header', Buffer.from('EHLO client.test\r\n'), 'no PROXY header'],
    [
      'a v1 header with a bad address',
      Buffer.from('PROXY TCP4 203.0.113.300 192.0.2.25 1 25\r\n'),
      'v1 addresses malformed',
    ],
    ['a v2 header of version 1', proxyV2('203.0.113.7', 1, { version: 1 }), 'v2 version not 2'],
    ['a v2 header for UDP', proxyV2('203.0.113.7', 1, { family: 0x12 }), 'v2 transport not TCP over IPv4 or IPv6'],
  ])('drops a connection that starts with %s, without a word', async (_what, preface, reason) => {
    const { dialog, greeting } = await SmtpDialog.open(relay.port, { preface });
    expect(greeting).toBe('');
    expect(dialog.closed).toBe(true);
    await waitFor(() => relay.events('ProxyRefused').some((record) => record.reason === reason));
  });

  it('drops a connection whose header does not come within the socket timeout', async () => {
    const socket = connect(relay.port, '127.0.0.1');
    const received = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString())).on('close', () => resolve(text));
    });
    expect(received).toBe('');
    expect(relay.events('ProxyRefused').at(-1)).toMatchObject({ peer: '127.0.0.1', reason: 'no header in time' });
  });

  it('drops a connection from a peer that is not a trusted proxy, even with a valid header', async () => {
    const { greeting } = await SmtpDialog.open(relay.port, {
      preface: proxyV1('203.0.113.7'),
      localAddress: '127.0.0.2',
    });
    expect(greeting).toBe('');
    expect(relay.events('ProxyRefused').at(-1)).toMatchObject({ peer: '127.0.0.2', reason: 'untrusted peer' });
  });
});

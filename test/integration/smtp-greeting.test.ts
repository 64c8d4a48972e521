// Scenario: the greeting pause (listener.greetingPause) against clients that talk before the 220.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { SmtpDialog, send } from '../helpers/smtp-client.js';

/** Connects, writes EHLO at once without waiting for the greeting, and returns everything read until the server closes. */
function talkFirst(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('EHLO early.test\r\n'));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text));
    setTimeout(() => socket.destroy(), 10_000).unref();
  });
}

describe('the greeting pause', () => {
  let redis: TestRedis;
  let paused: TestRelay;
  const store = new FakeMailstore();

  beforeAll(async () => {
    redis = await startTestRedis();
    const storePort = await store.start();
    paused = await startRelay(testConfig(redis.url, { store1: storePort }, { listener: { greetingPause: '1s' } }));
  });

  afterAll(async () => {
    await paused?.stop();
    await store.stop();
    await redis?.cleanup();
  });

  it('refuses a client that talks before the greeting with 421, and takes one that waits', async () => {
    expect(await talkFirst(paused.port)).toMatch(/^421 .*You talk too soon/m);
    const { dialog, greeting } = await SmtpDialog.open(paused.port);
    expect(greeting).toMatch(/^220 /);
    expect(await dialog.command('EHLO patient.test')).toMatch(/^250/);
    dialog.close();
    expect(await send(paused.port, 'sender@remote.test', ['alice@example.com'], 'after the pause')).toMatch(/^250 /);
  });
});

// Scenario: the greeting pause (listener.greetingPause) against clients that talk before the 220.
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { SmtpDialog, send } from '../helpers/smtp-client.js';
import { withRelay } from '../helpers/with-relay.js';

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
  const fixture = withRelay({ stores: ['store1'], config: { listener: { greetingPause: '1s' } } });

  it('refuses a client that talks before the greeting with 421, and takes one that waits', async () => {
    const paused = fixture.relay;
    expect(await talkFirst(paused.port)).toMatch(/^421 .*You talk too soon/m);
    const { dialog, greeting } = await SmtpDialog.open(paused.port);
    expect(greeting).toMatch(/^220 /);
    expect(await dialog.command('EHLO patient.test')).toMatch(/^250/);
    dialog.close();
    expect(await send(paused.port, 'sender@remote.test', ['alice@example.com'], 'after the pause')).toMatch(/^250 /);
  });
});

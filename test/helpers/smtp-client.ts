// SMTP clients for tests: a raw dialog for exact replies, and nodemailer for plain sending.
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import nodemailer from 'nodemailer';

/** A line-level SMTP conversation: send a command, read the complete (multi-line) reply. */
export class SmtpDialog {
  private buffer = '';
  private waiting: (() => void) | undefined;
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.waiting?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
    socket.on('error', () => undefined);
  }

  /** Connects (to 127.0.0.1 unless `host`) and reads the greeting; `preface` (a PROXY header) is sent first, from `localAddress` if given. */
  static async open(
    port: number,
    options: { preface?: Buffer; localAddress?: string; host?: string } = {},
  ): Promise<{ dialog: SmtpDialog; greeting: string }> {
    const socket = connect({ port, host: options.host ?? '127.0.0.1', localAddress: options.localAddress });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const dialog = new SmtpDialog(socket);
    if (options.preface) socket.write(options.preface);
    return { dialog, greeting: await dialog.reply() };
  }

  /** After the server's 220 to STARTTLS: the TLS handshake, and the dialog continued inside TLS. */
  async startTls(options: ConnectionOptions = {}): Promise<SmtpDialog> {
    this.socket.removeAllListeners('data');
    const secure = tlsConnect({ socket: this.socket, rejectUnauthorized: false, servername: 'mx.test', ...options });
    await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    return new SmtpDialog(secure);
  }

  /** Resolves once the server has closed the connection (or after the timeout, with false). */
  async waitClosed(timeoutMs = 15_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    return this.closed;
  }

  /** What the server sent that no reply() has read yet. */
  get unread(): string {
    return this.buffer;
  }

  /** Reads one complete reply (the last line has a space after the code). */
  async reply(timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = /^(?:\d{3}-.*\r\n)*\d{3}(?: .*)?\r\n/.exec(this.buffer);
      if (match) {
        this.buffer = this.buffer.slice(match[0].length);
        return match[0].trimEnd();
      }
      if (this.closed) return '';
      if (Date.now() > deadline) throw new Error(`no reply within ${timeoutMs} ms; have "${this.buffer}"`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  async command(line: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Runs EHLO, MAIL, RCPT... and DATA; returns every reply in order. */
export async function sendRaw(port: number, from: string, to: string[], message: string): Promise<string[]> {
  const { dialog } = await SmtpDialog.open(port);
  const replies = [await dialog.command('EHLO client.test'), await dialog.command(`MAIL FROM:<${from}>`)];
  for (const recipient of to) replies.push(await dialog.command(`RCPT TO:<${recipient}>`));
  replies.push(await dialog.command('DATA'));
  if (replies.at(-1)!.startsWith('354')) {
    dialog.write(`${message.replace(/\r?\n/g, '\r\n')}\r\n.\r\n`);
    replies.push(await dialog.reply());
  }
  await dialog.command('QUIT');
  dialog.close();
  return replies;
}

export function testMessage(subject: string, size = 0): string {
  const filler = size > 0 ? `\n${'x'.repeat(76)}\n`.repeat(Math.ceil(size / 78)) : '';
  return `From: sender@remote.test\nTo: someone@example.com\nSubject: ${subject}\nMessage-ID: <${subject.replace(/\W/g, '')}@remote.test>\n\nHello.${filler}\n`;
}

/** Sends through nodemailer (what a normal client does); resolves to the final reply line. */
export async function send(port: number, from: string, to: string[], subject: string): Promise<string> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  try {
    const info = (await transport.sendMail({ envelope: { from, to }, raw: testMessage(subject) })) as {
      response: string;
    };
    return info.response;
  } finally {
    transport.close();
  }
}

/** The queue id from "250 2.0.0 Ok: queued as <id>". */
export function queueIdOf(reply: string): string {
  const match = /queued as (\S+)/.exec(reply);
  if (!match) throw new Error(`not a queued reply: ${reply}`);
  return match[1]!;
}

/** Opens a session, says EHLO, sends each command in turn, and returns the replies to those commands. */
export async function converse(port: number, commands: string[]): Promise<string[]> {
  const { dialog } = await SmtpDialog.open(port);
  try {
    await dialog.command('EHLO client.test');
    const replies: string[] = [];
    for (const command of commands) replies.push(await dialog.command(command));
    return replies;
  } finally {
    dialog.close();
  }
}

/** Reads replies until the server closes the connection; returns them all. */
export async function repliesUntilClosed(dialog: SmtpDialog, timeoutMs = 15_000): Promise<string[]> {
  const replies: string[] = [];
  for (;;) {
    const reply = await dialog.reply(timeoutMs);
    if (reply === '') return replies;
    replies.push(reply);
  }
}

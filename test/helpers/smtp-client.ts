// SMTP clients for tests: a raw dialog for exact replies, and nodemailer for plain sending.
import { connect, type Socket } from 'node:net';
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

  static async open(port: number): Promise<{ dialog: SmtpDialog; greeting: string }> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const dialog = new SmtpDialog(socket);
    return { dialog, greeting: await dialog.reply() };
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

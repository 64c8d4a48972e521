// The latency pass of the benchmark: a small raw SMTP client (plain sockets, no pipelining) that runs
// N sessions in parallel, each sending M messages one after the other over one connection, and
// times every message from the end of DATA (the final "." written) to the 250 reply.
import { connect, type Socket } from 'node:net';

export interface LatencyOptions {
  port: number;
  sessions: number;
  messagesPerSession: number;
  /** Payload bytes after the headers. */
  size: number;
  from: string;
  to: string;
}

export interface LatencyResult {
  sent: number;
  failed: number;
  /** Milliseconds from the final "." to the 250, one per accepted message. */
  dataEndToReply: number[];
  /** Milliseconds from MAIL FROM to the 250 after DATA, one per accepted message. */
  transaction: number[];
  wallMs: number;
  errors: string[];
}

/** A line-level SMTP conversation over one socket. */
class Dialog {
  private buffer = '';
  private waiter: (() => void) | undefined;
  private closed = false;

  constructor(private readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.setNoDelay(true);
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number): Promise<Dialog> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new Dialog(socket);
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** One complete (possibly multi-line) reply; the last line has a space after the code. */
  async reply(): Promise<string> {
    for (;;) {
      const match = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(this.buffer);
      if (match) {
        this.buffer = this.buffer.slice(match[0].length);
        return match[0].trimEnd();
      }
      if (this.closed) throw new Error(`connection closed; unread: ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  async command(line: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  write(data: string): void {
    this.socket.write(data, 'latin1');
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }
}

/** Headers plus `size` bytes of 78-byte lines (76 letters + CRLF), ending with the final dot. */
export function benchMessage(from: string, to: string, size: number, subject: string): string {
  const line = `${'x'.repeat(76)}\r\n`;
  const whole = line.repeat(Math.floor(size / line.length));
  const rest = size - whole.length;
  const tail = rest >= 2 ? `${'y'.repeat(rest - 2)}\r\n` : '';
  return (
    `From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nDate: ${new Date().toUTCString()}\r\n` +
    `Message-ID: <${subject.replace(/\W/g, '')}.${Date.now()}@bench.holdfast.test>\r\n\r\n` +
    `${whole}${tail}.\r\n`
  );
}

async function runSession(options: LatencyOptions, index: number, result: LatencyResult): Promise<void> {
  const dialog = await Dialog.open(options.port);
  try {
    const expect = (reply: string, code: string, what: string) => {
      if (!reply.startsWith(code)) throw new Error(`${what}: ${reply}`);
    };
    expect(await dialog.reply(), '220', 'greeting');
    expect(await dialog.command('EHLO latency.bench.test'), '250', 'EHLO');
    for (let number = 0; number < options.messagesPerSession; number++) {
      const message = benchMessage(options.from, options.to, options.size, `latency ${index}-${number}`);
      result.sent++;
      const started = performance.now();
      const mail = await dialog.command(`MAIL FROM:<${options.from}>`);
      const rcpt = mail.startsWith('250') ? await dialog.command(`RCPT TO:<${options.to}>`) : '';
      const data = rcpt.startsWith('250') ? await dialog.command('DATA') : '';
      if (!data.startsWith('354')) {
        result.failed++;
        result.errors.push(`session ${index}: ${mail} / ${rcpt} / ${data}`);
        await dialog.command('RSET');
        continue;
      }
      dialog.write(message);
      const dataEnd = performance.now();
      const final = await dialog.reply();
      const done = performance.now();
      if (!final.startsWith('250')) {
        result.failed++;
        result.errors.push(`session ${index}: after DATA: ${final}`);
        continue;
      }
      result.dataEndToReply.push(done - dataEnd);
      result.transaction.push(done - started);
    }
    await dialog.command('QUIT');
  } finally {
    dialog.close();
  }
}

export async function runLatencyPass(options: LatencyOptions): Promise<LatencyResult> {
  const result: LatencyResult = { sent: 0, failed: 0, dataEndToReply: [], transaction: [], wallMs: 0, errors: [] };
  const started = performance.now();
  const sessions = Array.from({ length: options.sessions }, (_, index) =>
    runSession(options, index, result).catch((error: unknown) => {
      result.errors.push(`session ${index} ended: ${error instanceof Error ? error.message : String(error)}`);
    }),
  );
  await Promise.all(sessions);
  result.wallMs = performance.now() - started;
  return result;
}

/** Nearest-rank percentile of unsorted samples (p in 0..100). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

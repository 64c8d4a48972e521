// A test sender: N messages at a steady pace over concurrent SMTP sessions, each with a token, and what each got.
import { setTimeout as sleep } from 'node:timers/promises';
import { SmtpDialog } from '../../helpers/smtp-client.js';

/** One MX host: a Holdfast node's SMTP port. */
export interface Mx {
  name: string;
  port: number;
}

/** One SMTP transaction tried for a message. */
export interface SendAttempt {
  number: number;
  mx: string;
  /** The reply that decided the attempt: the 250 after DATA, or the first refusal; '' if the connection failed. */
  reply: string;
  queueId?: string;
}

export interface SentMessage {
  token: string;
  recipients: string[];
  attempts: SendAttempt[];
  /** Some attempt got 250 after DATA: the relay took responsibility for it. */
  acknowledged: boolean;
}

export interface SenderOptions {
  scenario: string;
  count: number;
  /** Messages per second over all sessions. */
  rate: number;
  sessions: number;
  /** Session i prefers mx[i % length]; on a connection failure the next MX is tried, as a real MTA does. */
  mx: readonly Mx[];
  recipientsFor: (index: number) => string[];
}

export const TEST_HEADER = 'X-Holdfast-Test';
export const ATTEMPT_HEADER = 'X-Holdfast-Attempt';
export const SENDER_ADDRESS = 'sender@remote.test';

/** The last line of every test message: a copy without it was cut short. */
export const endLine = (token: string) => `-- end of ${token} --`;

export function messageText(token: string, attempt: number, recipients: string[], scenario: string): string {
  const filler = Array.from({ length: 20 }, (_, line) => `${token} line ${line} ${'x'.repeat(60)}`);
  return [
    `From: Outage Test <${SENDER_ADDRESS}>`,
    `To: ${recipients.join(', ')}`,
    `Subject: ${scenario} ${token}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${token}@remote.test>`,
    `${TEST_HEADER}: ${token}`,
    `${ATTEMPT_HEADER}: ${attempt}`,
    '',
    ...filler,
    endLine(token),
    '',
  ].join('\r\n');
}

/** One SMTP session, kept open between messages and opened again after any failure. */
class Session {
  private dialog: SmtpDialog | undefined;
  private mxName = '';

  constructor(
    private readonly mx: readonly Mx[],
    private readonly preferred: number,
  ) {}

  async send(message: SentMessage, scenario: string): Promise<SendAttempt> {
    const number = message.attempts.length + 1;
    const attempt = (reply: string, queueId?: string): SendAttempt => ({ number, mx: this.mxName, reply, queueId });
    try {
      const dialog = this.dialog ?? (await this.connect());
      if (!dialog) return attempt('');
      const refused = (reply: string) => {
        this.close();
        return attempt(reply);
      };
      const mail = await dialog.command(`MAIL FROM:<${SENDER_ADDRESS}>`);
      if (!mail.startsWith('250')) return refused(mail);
      for (const recipient of message.recipients) {
        const rcpt = await dialog.command(`RCPT TO:<${recipient}>`);
        if (!rcpt.startsWith('250')) return refused(rcpt);
      }
      const data = await dialog.command('DATA');
      if (!data.startsWith('354')) return refused(data);
      dialog.write(`${messageText(message.token, number, message.recipients, scenario)}.\r\n`);
      const final = await dialog.reply();
      if (!final.startsWith('250')) return refused(final);
      return attempt(final, /queued as (\S+)/.exec(final)?.[1]);
    } catch (error) {
      this.close();
      return attempt(`no reply: ${(error as Error).message}`);
    }
  }

  close(): void {
    this.dialog?.close();
    this.dialog = undefined;
  }

  /** The preferred MX, else the others in turn; undefined when none greets. */
  private async connect(): Promise<SmtpDialog | undefined> {
    for (let offset = 0; offset < this.mx.length; offset++) {
      const mx = this.mx[(this.preferred + offset) % this.mx.length]!;
      this.mxName = mx.name;
      try {
        const { dialog, greeting } = await SmtpDialog.open(mx.port);
        if (greeting.startsWith('220') && (await dialog.command('EHLO sender.remote.test')).startsWith('250')) {
          this.dialog = dialog;
          return dialog;
        }
        dialog.close();
      } catch {
        // refused: next MX
      }
    }
    return undefined;
  }
}

export class Sender {
  readonly messages: SentMessage[];
  /** Messages whose first attempt is over. */
  progress = 0;
  private readonly sessions: Session[];
  /** Messages from this index on wait for resume() (see pauseAt). */
  private pausedFrom = Number.POSITIVE_INFINITY;
  private resumed: Promise<void> = Promise.resolve();
  private resumeNow: () => void = () => {};

  constructor(private readonly options: SenderOptions) {
    this.messages = Array.from({ length: options.count }, (_, index) => ({
      token: `${options.scenario}-${String(index).padStart(4, '0')}`,
      recipients: options.recipientsFor(index),
      attempts: [],
      acknowledged: false,
    }));
    this.sessions = Array.from({ length: options.sessions }, (_, index) => new Session(options.mx, index));
  }

  get acknowledged(): number {
    return this.messages.filter((message) => message.acknowledged).length;
  }

  /**
   * Makes the stream stop before message `index` until resume(): what a test does during the pause
   * (an operator's hold, say) is then certain to come before the rest of the stream, however slow
   * the machine. Messages after the pause keep their pace from where it ended.
   */
  pauseAt(index: number): void {
    this.pausedFrom = index;
    this.resumed = new Promise((resolve) => (this.resumeNow = resolve));
  }

  resume(): void {
    this.pausedFrom = Number.POSITIVE_INFINITY;
    this.resumeNow();
  }

  /** Sends every message once, message i due at start + i / rate, whatever became of the ones before. */
  async run(): Promise<void> {
    const start = Date.now();
    let pausedAt: number | undefined;
    let pausedMs = 0;
    let next = 0;
    await Promise.all(
      this.sessions.map(async (session) => {
        for (;;) {
          const index = next++;
          if (index >= this.messages.length) return;
          if (index >= this.pausedFrom) {
            pausedAt ??= Date.now();
            await this.resumed;
            pausedMs = Math.max(pausedMs, Date.now() - pausedAt);
          }
          const due = start + pausedMs + (index * 1000) / this.options.rate;
          if (due > Date.now()) await sleep(due - Date.now());
          await this.attempt(session, this.messages[index]!);
          this.progress++;
        }
      }),
    );
  }

  /**
   * What a real sender does with mail that got 4xx or no answer: tries it again later. Rounds
   * `pauseMs` apart until every message is acknowledged or `rounds` have passed.
   */
  async retryUnacknowledged(rounds = 10, pauseMs = 1000): Promise<void> {
    for (let round = 0; round < rounds; round++) {
      const pending = this.messages.filter((message) => !message.acknowledged);
      if (pending.length === 0) return;
      if (round > 0) await sleep(pauseMs);
      let next = 0;
      await Promise.all(
        this.sessions.map(async (session) => {
          for (let index = next++; index < pending.length; index = next++) await this.attempt(session, pending[index]!);
        }),
      );
    }
  }

  close(): void {
    for (const session of this.sessions) session.close();
  }

  private async attempt(session: Session, message: SentMessage): Promise<void> {
    const attempt = await session.send(message, this.options.scenario);
    message.attempts.push(attempt);
    if (attempt.reply.startsWith('250')) message.acknowledged = true;
  }
}

// A steady stream of mail on a few sessions, and what became of it at a store: the figures of the
// failover tests (sent, acknowledged, delivered, lost, duplicated).
import { setTimeout as sleep } from 'node:timers/promises';
import type { FakeMailstore } from './mailstore.js';
import { SmtpDialog, testMessage } from './smtp-client.js';
import { waitFor } from './wait.js';

const REFUSAL_PAUSE_MS = 200;

/** What one message got from the relay. */
interface Outcome {
  subject: string;
  /** The reply that decided it: the one after DATA, or the first refusal; '' when the connection failed. */
  reply: string;
  at: number;
}

/**
 * Senders on `sessions` concurrent connections, each sending `perSession` messages per SMTP session
 * before it reconnects, until stopped. Every message has its own subject.
 */
export class SteadySender {
  readonly outcomes: Outcome[] = [];
  private stopping = false;
  private running: Promise<void>[] = [];

  constructor(
    private readonly port: number,
    private readonly sessions = 4,
    private readonly perSession = 5,
    /** Every message goes to this recipient; subjects start with `label`. */
    private readonly recipient = 'alice@example.com',
    private readonly label = 'failover',
  ) {}

  start(): void {
    this.running = Array.from({ length: this.sessions }, (_, index) => this.session(index));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
  }

  acknowledged(after = 0): Outcome[] {
    return this.outcomes.filter((outcome) => outcome.reply.startsWith('250') && outcome.at >= after);
  }

  /** From `since`, when the first and the last refusal came (ms after `since`). */
  refusals(since: number): { refusedFromMs: number; refusedUntilMs: number } {
    const times = this.outcomes
      .filter((outcome) => !outcome.reply.startsWith('250') && outcome.at >= since)
      .map((outcome) => outcome.at - since);
    return { refusedFromMs: Math.min(...times), refusedUntilMs: Math.max(...times) };
  }

  private async session(index: number): Promise<void> {
    let sent = 0;
    while (!this.stopping) {
      const dialog = await SmtpDialog.open(this.port).then(
        ({ dialog }) => dialog,
        () => undefined,
      );
      if (!dialog) continue;
      try {
        await dialog.command('EHLO client.test');
        for (let number = 0; number < this.perSession && !this.stopping && !dialog.closed; number++) {
          const subject = `${this.label} ${index}-${sent++}`;
          const reply = await this.transaction(dialog, subject);
          this.outcomes.push({ subject, reply, at: Date.now() });
          // As an MTA would, a refused message is tried again later, not at once.
          if (!reply.startsWith('250')) await sleep(REFUSAL_PAUSE_MS);
        }
        if (!dialog.closed) await dialog.command('QUIT');
      } catch {
        // a reply that never came: the message counts as refused, which it was
      } finally {
        dialog.close();
      }
    }
  }

  private async transaction(dialog: SmtpDialog, subject: string): Promise<string> {
    for (const command of ['MAIL FROM:<sender@remote.test>', `RCPT TO:<${this.recipient}>`, 'DATA']) {
      const reply = await dialog.command(command);
      if (!/^(250|354)/.test(reply)) {
        if (!dialog.closed) await dialog.command('RSET');
        return reply;
      }
    }
    dialog.write(`${testMessage(subject).replace(/\n/g, '\r\n')}.\r\n`);
    return dialog.reply(20_000);
  }
}

/** How many copies of each subject the mailstore received. */
export function copiesBySubject(store: FakeMailstore): Map<string, number> {
  const copies = new Map<string, number>();
  for (const message of store.messages) {
    const subject = /^Subject: (.*)$/m.exec(message.body)?.[1]?.trim() ?? '';
    copies.set(subject, (copies.get(subject) ?? 0) + 1);
  }
  return copies;
}

export interface Figures {
  sent: number;
  acknowledged: number;
  refused: number;
  delivered: number;
  lost: number;
  duplicated: number;
  /** Refused (451) but committed anyway: the sender's retry will make a second copy. */
  unacknowledgedButDelivered: number;
}

/** Waits (bounded) for every acknowledged message to arrive, then counts. */
export async function countFigures(
  sender: SteadySender,
  store: FakeMailstore,
): Promise<Figures & { missing: string[] }> {
  const acknowledged = new Set(sender.acknowledged().map((outcome) => outcome.subject));
  const missing = () => [...acknowledged].filter((subject) => !copiesBySubject(store).has(subject));
  await waitFor(() => missing().length === 0, 30_000, 'every acknowledged message delivered').catch(() => undefined);
  const copies = copiesBySubject(store);
  const refused = sender.outcomes.filter((outcome) => !outcome.reply.startsWith('250'));
  return {
    sent: sender.outcomes.length,
    acknowledged: acknowledged.size,
    refused: refused.length,
    delivered: [...acknowledged].filter((subject) => copies.has(subject)).length,
    lost: missing().length,
    duplicated: [...copies.values()].filter((count) => count > 1).length,
    unacknowledgedButDelivered: refused.filter((outcome) => copies.has(outcome.subject)).length,
    missing: missing(),
  };
}

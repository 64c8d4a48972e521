// Scenario: Redis behind three sentinels; the primary is SIGKILLed under a steady stream of mail.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { startSentinelSet, type TestSentinelSet } from '../helpers/sentinel.js';
import { jobCopies } from '../helpers/queued.js';
import { SmtpDialog, send, testMessage } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';

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
class SteadySender {
  readonly outcomes: Outcome[] = [];
  private stopping = false;
  private running: Promise<void>[] = [];

  constructor(
    private readonly port: number,
    private readonly sessions = 4,
    private readonly perSession = 5,
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
          const subject = `failover ${index}-${sent++}`;
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
    for (const command of ['MAIL FROM:<sender@remote.test>', 'RCPT TO:<alice@example.com>', 'DATA']) {
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
function copiesBySubject(store: FakeMailstore): Map<string, number> {
  const copies = new Map<string, number>();
  for (const message of store.messages) {
    const subject = /^Subject: (.*)$/m.exec(message.body)?.[1]?.trim() ?? '';
    copies.set(subject, (copies.get(subject) ?? 0) + 1);
  }
  return copies;
}

interface Figures {
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
async function countFigures(sender: SteadySender, store: FakeMailstore): Promise<Figures & { missing: string[] }> {
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

describe('a relay on Redis Sentinel with replicas: 1', () => {
  let set: TestSentinelSet;
  let relay: TestRelay;
  let store: FakeMailstore;

  // A fresh set for each case: the sentinels need up to 10 s to learn the roles after a failover.
  beforeEach(async () => {
    store = new FakeMailstore();
    set = await startSentinelSet({ replicas: 1 });
    const config = testConfig(
      undefined,
      { store1: await store.start() },
      {
        redis: { sentinels: set.sentinels, sentinelName: set.name, replicas: 1, replicaTimeout: '1s' },
        // Jobs active at the kill keep their lock until it expires: short locks keep the test short.
        workers: { lockDuration: '4s', stalledInterval: '2s' },
      },
    );
    relay = await startRelay(config);
  }, 120_000);

  afterEach(async () => {
    await relay?.stop();
    await store.stop();
    await set?.cleanup();
  });

  it('answers 451 4.3.0 instead of 250 while the replica does not acknowledge, and writes no more mail', async () => {
    const primary = await set.primary();
    const replica = set.nodes.find((node) => node.port !== primary.port)!;
    const sendOne = (subject: string) =>
      send(relay.port, 'sender@remote.test', ['alice@example.com'], subject).catch((error: Error) => error.message);
    set.pause(replica);
    try {
      for (const subject of ['no replica 1', 'no replica 2', 'no replica 3']) {
        expect(await sendOne(subject)).toMatch(/451 4\.3\.0/);
      }
    } finally {
      set.resume(replica);
    }
    expect(relay.events('CommitsRefused')).toMatchObject([{ reason: 'REDIS_REPLICAS_LAGGING' }]);
    // Once a commit went unacknowledged (at most the first), the next messages are refused before they are written.
    const refused = relay.events('ReceptionFailed').map((record) => record.queueId!);
    expect(refused).toHaveLength(3);
    for (const queueId of refused.slice(1)) {
      expect(await jobCopies(relay.config.redis.prefix, set.client(primary), queueId)).toEqual([]);
    }

    await waitFor(async () => (await sendOne('replica back')).startsWith('250'), 20_000, 'a 250 again');
    expect(relay.events('CommitsResumed')).toHaveLength(1);
  });

  it('delivers every message it acknowledged while the primary was killed and the replica promoted', async () => {
    const sender = new SteadySender(relay.port);
    const timings: Record<string, number> = {};
    let killedAt: number;
    try {
      sender.start();
      await waitFor(() => sender.acknowledged().length >= 20, 20_000, '20 messages acknowledged before the kill');
      const old = await set.primary();
      killedAt = Date.now();
      await set.kill(old);
      expect((await set.waitForFailover(old)).port).not.toBe(old.port);
      timings.failoverMs = Date.now() - killedAt;
      // As systemd would: the old primary starts again, and the sentinels make it the new primary's replica.
      await set.restart(old);
      await set.waitUntilReplicated();
      const rejoinedAt = Date.now();
      timings.rejoinedMs = rejoinedAt - killedAt;
      await waitFor(() => sender.acknowledged(rejoinedAt).length >= 20, 30_000, '20 messages acknowledged after');
    } finally {
      await sender.stop();
    }
    const { missing, ...figures } = await countFigures(sender, store);
    Object.assign(timings, sender.refusals(killedAt));
    console.info(`sentinel failover: ${JSON.stringify({ ...timings, ...figures })}`);
    expect(figures.refused).toBeGreaterThan(0);
    // The promoted replica was checked as the primary was: it fsyncs every write.
    expect(relay.events('CommitsRefused').map((record) => record.reason)).not.toContain('REDIS_NOT_DURABLE');
    expect(missing).toEqual([]);
    expect(figures.duplicated).toBeLessThanOrEqual(3); // what was finished and not yet replicated: 0-2 a run
  }, 240_000);

  it('delivers every message it acknowledged through a planned switchover with the old primary alive', async () => {
    const sender = new SteadySender(relay.port);
    const timings: Record<string, number> = {};
    let startedAt: number;
    try {
      sender.start();
      await waitFor(() => sender.acknowledged().length >= 20, 20_000, '20 messages acknowledged before');
      const old = await set.primary();
      startedAt = Date.now();
      await set.switchover();
      await set.waitForFailover(old);
      timings.failoverMs = Date.now() - startedAt;
      await set.waitUntilReplicated();
      const rejoinedAt = Date.now();
      timings.rejoinedMs = rejoinedAt - startedAt;
      await waitFor(() => sender.acknowledged(rejoinedAt).length >= 20, 30_000, '20 messages acknowledged after');
    } finally {
      await sender.stop();
    }
    const { missing, ...figures } = await countFigures(sender, store);
    Object.assign(timings, sender.refusals(startedAt));
    console.info(`sentinel switchover: ${JSON.stringify({ ...timings, ...figures })}`);
    expect(missing).toEqual([]);
    // The old primary takes the worker's finishes for about a second after the promotion, and loses
    // them: the jobs come back on the new one, and this node finishes them again instead of
    // delivering them again (0 in the runs since; 23-45 a run before it remembered them).
    expect(figures.duplicated).toBeLessThanOrEqual(3);
  }, 240_000);
});

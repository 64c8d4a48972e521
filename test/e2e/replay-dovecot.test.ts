// Scenario: a real Dovecot store is rolled back to an older copy (a lagging replica); `holdfast replay` brings the mail back.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReplayResult } from '../../src/admin/replay.js';
import { holdfastCli, writeCliConfig } from '../helpers/cli.js';
import { startDovecot, type TestDovecot } from '../helpers/dovecot.js';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { queueIdOf, sendRaw } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';

const SENDER = 'sender@remote.test';
const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
const CAROL = 'carol@example.com';
const BUDGET = 12 * 1024;

function message(subject: string, payloadBytes = 0): string {
  // Random bytes do not compress: the copy of a message costs about its size against the budget.
  const payload = payloadBytes > 0 ? randomBytes(payloadBytes).toString('base64').replace(/.{76}/g, '$&\n') : 'Hi.';
  return `From: ${SENDER}\nSubject: ${subject}\nMessage-ID: <${subject}@remote.test>\n\n${payload}\n`;
}

/** Dovecot delivers as the Maildir's owner: a copy must keep owners and modes (cp -a). */
function copyKeepingOwners(from: string, to: string): void {
  execFileSync('cp', ['-a', from, to]);
}

/** Per message in a Maildir: its Message-ID and the queue id of its X-Holdfast-Replay header, if any. */
function inventory(messages: string[]): Array<{ messageId: string; replayOf?: string }> {
  return messages
    .map((text) => {
      const messageId = /^Message-ID: <([^>]+)>/im.exec(text)?.[1] ?? 'none';
      const replayOf = /^X-Holdfast-Replay: (\S+)/im.exec(text)?.[1];
      return replayOf === undefined ? { messageId } : { messageId, replayOf };
    })
    .sort((a, b) => a.messageId.localeCompare(b.messageId) || (a.replayOf ?? '').localeCompare(b.replayOf ?? ''));
}

describe('replaying delivered mail to a Dovecot store rolled back to an older copy', () => {
  let redis: TestRedis;
  let relay: TestRelay;
  let dovecot: TestDovecot;
  let directory: string;
  let cli: string;
  const queued = new Map<string, string>(); // Message-ID -> queue id
  let snapshotAt = 0;
  let startedAt = 0;

  beforeAll(async () => {
    startedAt = Date.now();
    directory = mkdtempSync(join(tmpdir(), 'holdfast-replay-'));
    redis = await startTestRedis();
    dovecot = await startDovecot({ users: [ALICE, BOB, CAROL] });
    // Two stores on the same Dovecot: store1 (alice, carol) keeps 48 h; store2 (bob) has a small budget.
    relay = await startRelay(
      testConfig(
        redis.url,
        { store1: dovecot.port, store2: dovecot.port },
        { mailstores: { store2: { retention: { budget: `${BUDGET}b` } } } },
      ),
    );
    cli = writeCliConfig(directory, relay);
  });

  afterAll(async () => {
    await relay?.stop();
    await dovecot?.cleanup();
    await redis?.cleanup();
    if (directory) rmSync(directory, { recursive: true, force: true });
  });

  /** Sends, then waits until the store holds it and Holdfast has its copy (the copy's time comes after the store's reply). */
  const deliver = async (mailstore: string, to: string[], subject: string, payloadBytes = 0) => {
    const replies = await sendRaw(relay.port, SENDER, to, message(subject, payloadBytes));
    const queueId = queueIdOf(replies.at(-1)!);
    queued.set(`${subject}@remote.test`, queueId);
    await waitFor(
      async () =>
        (await relay.app.retained!.entries(mailstore, 0, Date.now() + 1000)).some(
          (entry) => entry.delivery.queueId === queueId,
        ),
      20_000,
      `the copy of ${subject}`,
    );
    return queueId;
  };
  const replay = async (...args: string[]): Promise<ReplayResult> => {
    const result = await holdfastCli(cli, 'replay', ...args, '--json');
    expect(result).toMatchObject({ code: 0, stderr: '' });
    return JSON.parse(result.stdout) as ReplayResult;
  };

  it('brings back every message the rolled-back Maildir lost, once, marked, with its Message-ID; nothing older', async () => {
    await deliver('store1', [ALICE], 'old-a1');
    await deliver('store1', [ALICE, CAROL], 'old-both');
    await deliver('store1', [CAROL], 'old-c1');
    // The replica's last sync: a copy of the mail directory as it is now.
    const mailRoot = join(dovecot.dir, 'mail');
    const snapshot = join(directory, 'replica');
    copyKeepingOwners(mailRoot, snapshot);
    snapshotAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await deliver('store1', [ALICE], 'new-a1');
    await deliver('store1', [ALICE, CAROL], 'new-both');
    await deliver('store1', [CAROL], 'new-c1');
    expect(dovecot.messages(ALICE)).toHaveLength(4);
    expect(dovecot.messages(CAROL)).toHaveLength(4);

    // Failover to the lagging replica: the store now holds the snapshot (indexes and all).
    await dovecot.stop();
    rmSync(mailRoot, { recursive: true, force: true });
    copyKeepingOwners(snapshot, mailRoot);
    await dovecot.restart();
    expect(inventory(dovecot.messages(ALICE)).map((entry) => entry.messageId)).toEqual([
      'old-a1@remote.test',
      'old-both@remote.test',
    ]);

    const since = new Date(snapshotAt).toISOString();
    const everything = await replay('store1', '--since', new Date(startedAt).toISOString(), '--dry-run');
    expect(everything).toMatchObject({ messages: 6, users: 2, replayed: 0 });
    const dry = await replay('store1', '--since', since, '--dry-run');
    expect(dry).toMatchObject({ dryRun: true, messages: 3, users: 2, replayed: 0 });
    expect(dovecot.messages(ALICE)).toHaveLength(2);

    const done = await replay('store1', '--since', since, '--reason', 'failed over to a lagging replica');
    expect(done).toMatchObject({ messages: dry.messages, bytes: dry.bytes, users: dry.users, missing: 0 });
    expect(done.replayed).toBe(dry.messages);
    expect(done.state?.kind).toBe('releasing');

    await waitFor(
      () => dovecot.messages(ALICE).length === 4 && dovecot.messages(CAROL).length === 4,
      30_000,
      'the replayed mail in both Maildirs',
    );
    const replayed = (subject: string) => ({
      messageId: `${subject}@remote.test`,
      replayOf: queued.get(`${subject}@remote.test`),
    });
    const original = (subject: string) => ({ messageId: `${subject}@remote.test` });
    expect(inventory(dovecot.messages(ALICE))).toEqual([
      replayed('new-a1'),
      replayed('new-both'),
      original('old-a1'),
      original('old-both'),
    ]);
    expect(inventory(dovecot.messages(CAROL))).toEqual([
      replayed('new-both'),
      replayed('new-c1'),
      original('old-both'),
      original('old-c1'),
    ]);
    const text = await holdfastCli(cli, 'replay', 'store1', '--since', since, '--dry-run');
    expect(text.stdout).toMatch(/^would replay 3 messages, \d+ bytes, 2 users \(delivered to store1 from /);
    const audit = await holdfastCli(cli, 'audit', '-n', '5');
    expect(audit.stdout).toContain(`store1  replay 3 messages delivered ${since} to `);
    expect(audit.stdout).toMatch(
      /store1 {2}open -> releasing {2}by \S+: replay of 3 messages: failed over to a lagging replica/,
    );
  });

  it('replays past its budget only the newest copies: the oldest were dropped first', async () => {
    const sent: string[] = [];
    for (let number = 1; number <= 5; number++) sent.push(await deliver('store2', [BOB], `big-${number}`, 4000));
    expect(dovecot.messages(BOB)).toHaveLength(5);
    // Bob's mail is lost on the store (his Maildir restored from before any of it).
    await dovecot.stop();
    rmSync(dovecot.maildir(BOB), { recursive: true, force: true });
    await dovecot.restart();
    expect(existsSync(dovecot.maildir(BOB))).toBe(false);

    const since = new Date(startedAt).toISOString();
    const dry = await replay('store2', '--since', since, '--dry-run');
    expect(dry.messages).toBeGreaterThanOrEqual(2);
    expect(dry.messages).toBeLessThan(5);
    expect(dry.gapUntil).toBeGreaterThanOrEqual(startedAt);
    const warned = await holdfastCli(cli, 'replay', 'store2', '--since', since, '--dry-run');
    expect(warned.stdout).toMatch(/warning: copies of mail delivered up to .* were dropped or not kept/);

    const done = await replay('store2', '--since', since);
    expect(done.replayed).toBe(dry.messages);
    await waitFor(() => dovecot.messages(BOB).length === dry.messages, 30_000, "bob's replayed mail");
    expect(inventory(dovecot.messages(BOB)).map((entry) => entry.replayOf)).toEqual(sent.slice(-dry.messages));
  });
});

// Scenario: a real Cyrus IMAP (Debian's cyrus-imapd 3.6) is rolled back to an older copy of its data; `holdfast
// replay` sends the window again, and Cyrus's duplicate suppression (deliver.db, keyed by Message-ID and mailbox)
// drops what the restored Cyrus still has.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MailstoreStatus } from '../../src/admin/mailstores.js';
import type { ReplayResult } from '../../src/admin/replay.js';
import { startCyrus, type TestCyrus } from '../helpers/cyrus.js';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { queueIdOf, sendRaw } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';

const SENDER = 'sender@remote.test';
const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
const CAROL = 'carol@example.com';
const CYRUS_BIN = '/usr/lib/cyrus/bin';
const DATE = 'Mon, 7 Dec 2026 10:00:00 +0000';

function message(name: string, text = 'Hi.'): string {
  return `From: ${SENDER}\nDate: ${DATE}\nSubject: ${name}\nMessage-ID: <${name}@remote.test>\n\n${text}\n`;
}

/** Per stored message: its Message-ID, and the queue id its X-Holdfast-Replay header names (a replayed copy). */
function inventory(messages: string[]): Array<{ messageId: string; replayOf?: string }> {
  return messages
    .map((text) => {
      const messageId = /^Message-ID: <([^>]+)>/im.exec(text)?.[1] ?? 'none';
      const replayOf = /^X-Holdfast-Replay: (\S+)/im.exec(text)?.[1];
      return replayOf === undefined ? { messageId } : { messageId, replayOf };
    })
    .sort((a, b) => a.messageId.localeCompare(b.messageId));
}

/**
 * What a Cyrus backup holds, and a restore puts back: the config directory (mailboxes.db, deliver.db for the
 * duplicate suppression, the quotas, each user's indexes) and the spool. Copied while Cyrus is stopped, keeping
 * owners and modes (its processes run as the cyrus user).
 */
const STATE = ['config', 'spool'];

async function takeSnapshot(cyrus: TestCyrus, into: string): Promise<void> {
  await cyrus.stop();
  try {
    mkdirSync(into);
    for (const name of STATE) execFileSync('cp', ['-a', join(cyrus.dir, name), join(into, name)]);
  } finally {
    await cyrus.restart();
  }
}

async function restoreSnapshot(cyrus: TestCyrus, from: string): Promise<void> {
  await cyrus.stop();
  for (const name of STATE) {
    rmSync(join(cyrus.dir, name), { recursive: true, force: true });
    execFileSync('cp', ['-a', join(from, name), join(cyrus.dir, name)]);
  }
  await cyrus.restart();
}

/** The unique id of a user's INBOX (from its cyrus.header): Cyrus 3.6 keys duplicate suppression by it. */
function mailboxId(cyrus: TestCyrus, user: string): string {
  const header = readFileSync(join(cyrus.dir, 'spool', 'user', user.split('@')[0]!, 'cyrus.header'), 'latin1');
  const id = /\bN \S+ I (\S+)/.exec(header)?.[1];
  if (!id) throw new Error(`no unique id in the cyrus.header of ${user}`);
  return id;
}

/** How many times Cyrus logged `Delivered: <id> to mailbox: ...` per Message-ID (a message it stored). */
function storedCounts(log: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [, messageId = ''] of log.matchAll(/Delivered: <([^>]+)> to mailbox: /g)) {
    counts[messageId] = (counts[messageId] ?? 0) + 1;
  }
  return counts;
}

/** Cyrus's log lines for deliveries its duplicate suppression dropped: to which mailbox (its id), which Message-ID. */
function eliminated(log: string): Array<{ mailbox: string; messageId: string }> {
  return [...log.matchAll(/dupelim: eliminated duplicate message to (\S+) id <([^>]+)>/g)]
    .map(([, mailbox = '', messageId = '']) => ({ mailbox, messageId }))
    .sort((a, b) => a.messageId.localeCompare(b.messageId));
}

describe('replaying delivered mail to a Cyrus rolled back to an older copy', () => {
  let redis: TestRedis;
  let cyrus: TestCyrus;
  let relay: TestRelay;
  let directory: string;

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'holdfast-cyrus-replay-'));
    redis = await startTestRedis();
    // Expunged messages leave the spool at once (Cyrus's default, delayed, keeps their files for unexpunge).
    cyrus = await startCyrus({ users: [ALICE, BOB, CAROL], settings: { expunge_mode: 'immediate' } });
    // Retention is on by default (48 h): Holdfast keeps a copy of each delivery for replay.
    relay = await startRelay(
      testConfig(
        redis.url,
        { cyrus: cyrus.lmtpPort },
        {
          routing: { users: { [ALICE]: 'cyrus', [BOB]: 'cyrus', [CAROL]: 'cyrus' } },
          mailstores: { cyrus: { auth: { user: cyrus.lmtpUser, pass: cyrus.lmtpPassword } } },
        },
      ),
    );
  });

  afterAll(async () => {
    await relay?.stop();
    await cyrus?.cleanup();
    await redis?.cleanup();
    if (directory) rmSync(directory, { recursive: true, force: true });
  });

  /** waitFor, with Cyrus's log in the error when it times out. */
  const waitForCyrus = async (condition: () => boolean | Promise<boolean>, what: string) => {
    try {
      await waitFor(condition, 60_000, what);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- cyrus log ---\n${cyrus.log()}`, { cause: error });
    }
  };
  const queued = new Map<string, string>(); // Message-ID -> queue id
  /** Sends, then waits until Holdfast has the copy of the delivery (taken after Cyrus's reply). */
  const deliver = async (to: string, name: string, text?: string) => {
    const queueId = queueIdOf((await sendRaw(relay.port, SENDER, [to], message(name, text))).at(-1)!);
    queued.set(`${name}@remote.test`, queueId);
    await waitForCyrus(
      async () =>
        (await relay.app.retained!.entries('cyrus', 0, Date.now() + 1000)).some(
          (entry) => entry.delivery.queueId === queueId,
        ),
      `the copy of ${name}`,
    );
  };
  const replay = async (body: object): Promise<ReplayResult> => {
    const response = await fetch(`http://127.0.0.1:${relay.app.adminPort}/api/v1/stores/cyrus/replay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as ReplayResult;
  };
  const storeStatus = async (): Promise<MailstoreStatus> =>
    (await relay.app.mailstoreAdmin!.status()).find((status) => status.mailstore === 'cyrus')!;

  it('replay to a Cyrus rolled back: duplicate suppression drops what the mailbox still has, and what it lost arrives again', async () => {
    const startedAt = Date.now();
    // The first part of the window: in the backup.
    for (const name of ['kept-a1', 'kept-a2', 'kept-a3']) await deliver(ALICE, name);
    for (const name of ['kept-b1', 'kept-b2']) await deliver(BOB, name);
    const backup = join(directory, 'backup');
    await takeSnapshot(cyrus, backup);
    // The last part: delivered, then lost in the rollback.
    for (const name of ['lost-a4', 'lost-a5', 'lost-a6']) await deliver(ALICE, name);
    expect(cyrus.messages(ALICE)).toHaveLength(6);
    expect(cyrus.messages(BOB)).toHaveLength(2);

    // The rollback: Cyrus's mailboxes and its deliver.db go back to the backup.
    await restoreSnapshot(cyrus, backup);
    expect(inventory(cyrus.messages(ALICE))).toEqual([
      { messageId: 'kept-a1@remote.test' },
      { messageId: 'kept-a2@remote.test' },
      { messageId: 'kept-a3@remote.test' },
    ]);
    expect(eliminated(cyrus.log())).toEqual([]);

    // The operator replays the whole window, the part the backup has included (the runbook's margin).
    const since = new Date(startedAt).toISOString();
    const dry = await replay({ since, dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, messages: 8, users: 2, replayed: 0, missing: 0 });
    const done = await replay({ since, by: 'ops', reason: 'cyrus restored from last night' });
    expect(done).toMatchObject({ dryRun: false, messages: 8, replayed: 8, missing: 0 });
    expect(done.state?.kind).toBe('releasing');
    const original = new Set(queued.values());
    const replayDeliveries = () =>
      relay.events('Delivery').filter((record) => !original.has(record.queueId!) && record.mailstore === 'cyrus');
    await waitForCyrus(
      async () => replayDeliveries().length === 8 && (await storeStatus()).backlog.messages === 0,
      'every replayed message answered',
    );
    // Cyrus's log of the replay (its syslog reaches the test a moment after lmtpd's reply): 8 before, 8 now.
    const logged = () =>
      eliminated(cyrus.log()).length + Object.values(storedCounts(cyrus.log())).reduce((a, b) => a + b);
    await waitForCyrus(() => logged() === 16, "Cyrus's log of every replayed message");

    // Cyrus answered 250 for all eight; it dropped the five the restored mailboxes still had (its log says
    // "dupelim"), and stored the three the rollback lost, once each, marked as replays.
    expect(replayDeliveries().map((record) => record.reply)).toEqual(
      Array(8).fill(expect.stringMatching(/^250 2\.1\.5 /)),
    );
    const [alices, bobs] = [mailboxId(cyrus, ALICE), mailboxId(cyrus, BOB)];
    expect(eliminated(cyrus.log())).toEqual([
      { mailbox: alices, messageId: 'kept-a1@remote.test' },
      { mailbox: alices, messageId: 'kept-a2@remote.test' },
      { mailbox: alices, messageId: 'kept-a3@remote.test' },
      { mailbox: bobs, messageId: 'kept-b1@remote.test' },
      { mailbox: bobs, messageId: 'kept-b2@remote.test' },
    ]);
    // Stored once before the rollback, and the lost ones once more by the replay.
    expect(storedCounts(cyrus.log())).toEqual({
      'kept-a1@remote.test': 1,
      'kept-a2@remote.test': 1,
      'kept-a3@remote.test': 1,
      'kept-b1@remote.test': 1,
      'kept-b2@remote.test': 1,
      'lost-a4@remote.test': 2,
      'lost-a5@remote.test': 2,
      'lost-a6@remote.test': 2,
    });
    const replayOf = (name: string) => ({
      messageId: `${name}@remote.test`,
      replayOf: queued.get(`${name}@remote.test`),
    });
    expect(inventory(cyrus.messages(ALICE))).toEqual([
      { messageId: 'kept-a1@remote.test' },
      { messageId: 'kept-a2@remote.test' },
      { messageId: 'kept-a3@remote.test' },
      replayOf('lost-a4'),
      replayOf('lost-a5'),
      replayOf('lost-a6'),
    ]);
    expect(inventory(cyrus.messages(BOB))).toEqual([
      { messageId: 'kept-b1@remote.test' },
      { messageId: 'kept-b2@remote.test' },
    ]);
    expect(relay.events('PermanentFailure')).toEqual([]);
    expect(relay.events('Bounce')).toEqual([]);
  }, 120_000);

  it("a message its user deleted stays deleted after a replay: Cyrus's deliver.db still remembers its Message-ID", async () => {
    const startedAt = Date.now();
    await deliver(CAROL, 'read-c1');
    await deliver(CAROL, 'deleted-c2', 'A long message. '.repeat(200));
    // The long one is deleted from Carol's INBOX (Cyrus's ipurge, which runs as the cyrus user, expunges her
    // messages over 2000 bytes); expunge_mode immediate takes its file out of the spool.
    execFileSync(`${CYRUS_BIN}/ipurge`, ['-C', join(cyrus.dir, 'imapd.conf'), '-f', '-b', '2000', 'user.carol']);
    expect(inventory(cyrus.messages(CAROL))).toEqual([{ messageId: 'read-c1@remote.test' }]);

    const done = await replay({ since: startedAt, recipient: CAROL, by: 'ops', reason: 'a replay too wide' });
    expect(done).toMatchObject({ messages: 2, users: 1, replayed: 2, missing: 0 });
    const original = new Set(queued.values());
    const answered = () =>
      relay.events('Delivery').filter((record) => !original.has(record.queueId!) && record.recipient === CAROL);
    await waitForCyrus(() => answered().length === 2, 'both replayed messages answered');
    const carols = mailboxId(cyrus, CAROL);
    const dropped = () => eliminated(cyrus.log()).filter((entry) => entry.mailbox === carols);
    await waitForCyrus(() => dropped().length === 2, "Cyrus's log of both replayed messages");

    // Both answered 250, both dropped: the deleted message does not come back while deliver.db remembers it.
    expect(answered().map((record) => record.reply)).toEqual([
      expect.stringMatching(/^250 2\.1\.5 /),
      expect.stringMatching(/^250 2\.1\.5 /),
    ]);
    expect(dropped()).toEqual([
      { mailbox: carols, messageId: 'deleted-c2@remote.test' },
      { mailbox: carols, messageId: 'read-c1@remote.test' },
    ]);
    expect(inventory(cyrus.messages(CAROL))).toEqual([{ messageId: 'read-c1@remote.test' }]);
  }, 120_000);
});

// Scenario: a real Cyrus IMAP (Debian's cyrus-imapd 3.6) in trouble behind Holdfast: lmtpd stopped in the middle
// of a stream of mail, the mailboxes database lost, and a user over quota answered with Cyrus's permanent 552 5.2.2.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MailstoreStatus } from '../../src/admin/mailstores.js';
import { startCyrus, type TestCyrus } from '../helpers/cyrus.js';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';

const SENDER = 'sender@remote.test';
const address = (name: string) => `${name}@example.com`;

/** The queue id in the Received header Holdfast added, one per stored message. */
function holdfastQueueIds(messages: string[]): string[] {
  return messages.map((message) => /\(Holdfast\) with \S+ id ([^\s;]+)/.exec(message)?.[1] ?? 'none').sort();
}

/** A store on the Cyrus: lmtpd on TCP with LMTP AUTH, or (`socket`) lmtpd's unix socket; its settings merged in. */
interface StorePlan {
  users: string[];
  socket?: boolean;
  settings?: Record<string, unknown>;
}

describe('a real Cyrus IMAP in trouble behind Holdfast', () => {
  let redis: TestRedis;
  let cyrus: TestCyrus | undefined;
  let relay: TestRelay | undefined;
  let smarthost: FakeMailstore | undefined;

  beforeAll(async () => {
    redis = await startTestRedis();
  });

  afterEach(async () => {
    await relay?.stop();
    await cyrus?.cleanup();
    await smarthost?.stop();
    [relay, cyrus, smarthost] = [undefined, undefined, undefined];
  });

  afterAll(async () => {
    await redis?.cleanup();
  });

  /** A Cyrus with every store's users, a relay delivering to it, and a bounce smarthost that records DSNs. */
  const start = async (stores: Record<string, StorePlan>, settings: Record<string, string> = {}) => {
    const users = Object.values(stores).flatMap((store) => store.users);
    cyrus = await startCyrus({ users, settings });
    smarthost = new FakeMailstore('smtp');
    const credentials = { user: cyrus.lmtpUser, pass: cyrus.lmtpPassword };
    const routes = Object.fromEntries(
      Object.entries(stores).flatMap(([id, store]) => store.users.map((user) => [user, id])),
    );
    const mailstores = Object.fromEntries(
      Object.entries(stores).map(([id, store]) => [
        id,
        {
          ...(store.socket ? { endpoints: [`unix:${cyrus!.lmtpSocket}`] } : { auth: credentials }),
          ...store.settings,
        },
      ]),
    );
    const ports = Object.fromEntries(Object.keys(stores).map((id) => [id, cyrus!.lmtpPort]));
    const config = testConfig(redis.url, ports, {
      routing: { users: routes },
      mailstores,
      bounces: { smarthost: `127.0.0.1:${await smarthost.start()}` },
    });
    relay = await startRelay(config);
    return { cyrus, relay, smarthost };
  };

  /** waitFor, with Cyrus's log in the error when it times out. */
  const waitForCyrus = async (condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000) => {
    try {
      await waitFor(condition, timeoutMs, what);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- cyrus log ---\n${cyrus?.log()}`, { cause: error });
    }
  };
  const storeStatus = async (mailstore: string): Promise<MailstoreStatus> => {
    const status = (await relay!.app.mailstoreAdmin!.status()).find((entry) => entry.mailstore === mailstore);
    if (!status) throw new Error(`no status for ${mailstore}`);
    return status;
  };
  const queued = (status: MailstoreStatus) => status.counts.waiting + status.counts.delayed + status.counts.active;
  /** The operator's admin API, as `holdfast release` calls it. */
  const api = async <T>(path: string, body: object): Promise<{ status: number; body: T }> => {
    const response = await fetch(`http://127.0.0.1:${relay!.app.adminPort}/api/v1${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  /** The queue ids Holdfast logged a Delivery for, each as often as it was logged. */
  const deliveryEvents = () => relay!.events('Delivery').map((record) => record.queueId!);
  /** Nothing bounced, nothing failed for good, nothing expired, no DSN at the smarthost. */
  const expectNoBounce = () => {
    expect(relay!.events('Bounce')).toEqual([]);
    expect(relay!.events('BounceHeld')).toEqual([]);
    expect(relay!.events('Expiration')).toEqual([]);
    expect(smarthost!.messages).toEqual([]);
  };

  it(
    'lmtpd stopped mid-stream: mail sent while Cyrus is down waits, nothing is lost, bounced or duplicated, ' +
      'and all arrives after Cyrus is back',
    async () => {
      const overTcp = [address('alice'), address('bob')];
      const overSocket = [address('carol'), address('dave')];
      await start({ 'cyrus-tcp': { users: overTcp }, 'cyrus-socket': { users: overSocket, socket: true } });
      const everyone = [...overTcp, ...overSocket];
      const sent = new Map<string, string>(); // queue id -> recipient
      const stream = async (from: number, to: number) => {
        for (let number = from; number < to; number++) {
          const recipient = everyone[number % everyone.length]!;
          sent.set(queueIdOf(await send(relay!.port, SENDER, [recipient], `stream ${number}`)), recipient);
        }
      };
      const sentTo = (users: string[]) =>
        [...sent].filter(([, recipient]) => users.includes(recipient)).map(([queueId]) => queueId);

      // Cyrus stops while the first part of the stream is still arriving and being delivered.
      const firstPart = stream(0, 15);
      await waitFor(() => sent.size >= 10, 20_000, 'a third of the stream');
      await cyrus!.stop();
      await firstPart;

      // The next part arrives while Cyrus is down: Holdfast takes it (250) and keeps it.
      await stream(15, 25);
      for (const mailstore of ['cyrus-tcp', 'cyrus-socket']) {
        await waitForCyrus(async () => (await storeStatus(mailstore)).state.kind === 'tripped', `${mailstore} tripped`);
      }
      for (const [mailstore, users] of [
        ['cyrus-tcp', overTcp],
        ['cyrus-socket', overSocket],
      ] as const) {
        const status = await storeStatus(mailstore);
        // At least the five sent to the store while Cyrus was down wait for it.
        expect(status.backlog.messages).toBeGreaterThanOrEqual(5);
        expect(status.backlog.messages).toBeLessThanOrEqual(sentTo(users).length);
      }
      // What Holdfast met: connections refused, or (Cyrus's master stopping with connections queued) accepted
      // and reset without a greeting; each time the store unreachable, its mail kept.
      for (const mailstore of ['cyrus-tcp', 'cyrus-socket']) {
        const unreachable = relay!
          .events('Attempt')
          .filter((record) => record.mailstore === mailstore && record.msg === 'mailstore unreachable');
        expect(unreachable.length).toBeGreaterThan(0);
        for (const record of unreachable) {
          expect(record.reply).toMatch(/ECONNREFUSED|ECONNRESET|EPIPE|Greeting never received|Connection closed/);
        }
      }

      // Cyrus is back; the last part arrives while the stores come back (probe, then the ramp).
      await cyrus!.restart();
      await stream(25, 30);
      expect(sent.size).toBe(30);
      const counts = () =>
        everyone.map((user) => `${user} ${cyrus!.messages(user).length}/${sentTo([user]).length}`).join(', ');
      const statuses = async () =>
        JSON.stringify(
          await Promise.all(
            ['cyrus-tcp', 'cyrus-socket'].map(async (id) => {
              const status = await storeStatus(id);
              return { id, state: status.state.kind, counts: status.counts, lastError: status.lastError?.error };
            }),
          ),
        );
      try {
        await waitForCyrus(
          () => everyone.every((user) => cyrus!.messages(user).length >= sentTo([user]).length),
          'every message in its mailbox',
        );
      } catch (error) {
        throw new Error(`${(error as Error).message}\nstored/sent: ${counts()}\nstores: ${await statuses()}`, {
          cause: error,
        });
      }

      // A message Cyrus stored as it stopped, before Holdfast had its reply, is tried again: wait for the queues.
      for (const mailstore of ['cyrus-tcp', 'cyrus-socket']) {
        await waitForCyrus(async () => queued(await storeStatus(mailstore)) === 0, `${mailstore} drained`);
        expect((await storeStatus(mailstore)).backlog.messages).toBe(0);
      }

      // Each message exactly once, in its user's mailbox: nothing lost, nothing twice.
      for (const user of everyone) expect(holdfastQueueIds(cyrus!.messages(user))).toEqual(sentTo([user]).sort());
      expect(deliveryEvents().sort()).toEqual([...sent.keys()].sort());
      expect(relay!.events('PermanentFailure')).toEqual([]);
      expectNoBounce();
    },
    180_000,
  );

  it('the mailboxes database lost: every recipient is guarded, nothing bounces, and after the mailboxes return and a release all of it is delivered', async () => {
    const users = ['erin', 'frank', 'grace', 'heidi', 'ivan'].map(address);
    await start({ cyrus: { users } });
    await cyrus!.deleteAllMailboxes();

    const sent = new Map<string, string>(); // queue id -> recipient
    for (let number = 0; number < 20; number++) {
      const recipient = users[number % users.length]!;
      sent.set(queueIdOf(await send(relay!.port, SENDER, [recipient], `lost db ${number}`)), recipient);
    }

    // Cyrus calls every user unknown; the burst guards the store instead of bouncing.
    await waitForCyrus(async () => (await storeStatus('cyrus')).state.kind === 'guarded', 'the guard');
    const guards = relay!.events('MailstoreState').filter((record) => record.action === 'guard');
    expect(guards).toEqual([
      expect.objectContaining({ level: 'error', mailstore: 'cyrus', by: 'holdfast', from: 'open', to: 'guarded' }),
    ]);
    const refusals = relay!.events('PermanentFailure');
    expect(refusals.length).toBeGreaterThanOrEqual(5);
    for (const refusal of refusals) {
      // Cyrus 3.6 answers on three lines: 550-Mailbox unknown. Either there is no mailbox ... / 550 5.1.1 User unknown.
      expect(refusal).toMatchObject({ mailstore: 'cyrus', suspect: true, msg: 'refused: held back by the 5xx guard' });
      expect(refusal.reply).toMatch(/^550-Mailbox unknown\./);
      expect(refusal.reply).toMatch(/^550 5\.1\.1 User unknown$/m);
    }
    await sleep(1000);
    const guarded = await storeStatus('cyrus');
    expect(guarded.state).toMatchObject({ kind: 'guarded', by: 'holdfast' });
    expect(guarded.backlog.messages).toBe(20); // every message kept: refused as suspects, or not tried
    for (const user of users) expect(cyrus!.messages(user)).toEqual([]);
    expectNoBounce();

    // The operator brings the mailboxes back and releases the store.
    await cyrus!.createMailboxes(users);
    const released = await api<{ state: { kind: string } }>('/stores/cyrus/release', {
      by: 'ops',
      reason: 'mailboxes database rebuilt',
    });
    expect(released).toMatchObject({ status: 200, body: { state: { kind: 'releasing' } } });
    const sentTo = (user: string) => [...sent].filter(([, recipient]) => recipient === user).map(([id]) => id);
    await waitForCyrus(
      () => users.every((user) => cyrus!.messages(user).length === sentTo(user).length),
      'every kept message delivered',
    );
    // Cyrus stores a message before it replies: Holdfast's records of the last ones come a moment later.
    await waitForCyrus(async () => queued(await storeStatus('cyrus')) === 0, 'the store drained');

    for (const user of users) expect(holdfastQueueIds(cyrus!.messages(user))).toEqual(sentTo(user).sort());
    expect(deliveryEvents().sort()).toEqual([...sent.keys()].sort());
    const settled = relay!.events('SuspectSettled');
    expect(settled.length).toBe(refusals.length);
    expect(settled.every((record) => record.fate === 'retry')).toBe(true);
    expectNoBounce();
    const audit = await relay!.app.mailstoreAdmin!.audit(5);
    expect(audit).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'guard', mailstore: 'cyrus', from: 'open', to: 'guarded' }),
        expect.objectContaining({ action: 'release', mailstore: 'cyrus', by: 'ops', from: 'guarded' }),
      ]),
    );
  }, 180_000);

  it("a user over quota with Cyrus's permanent 552 5.2.2 is refused permanently with mailboxFull: bounce (as Postfix does), and kept and delivered after the quota is raised with mailboxFull: defer", async () => {
    const judy = address('judy');
    const mallory = address('mallory');
    await start(
      {
        'cyrus-bounce': { users: [judy], settings: { mailboxFull: 'bounce', guard: { window: '2s' } } },
        'cyrus-defer': { users: [mallory], settings: { mailboxFull: 'defer' } },
      },
      { lmtp_over_quota_perm_failure: '1' },
    );
    // Cyrus refuses only a mailbox already over its quota: fill each, then take the room away.
    const fills = [
      queueIdOf(await send(relay!.port, SENDER, [judy], 'fills judy')),
      queueIdOf(await send(relay!.port, SENDER, [mallory], 'fills mallory')),
    ];
    await waitForCyrus(
      () => cyrus!.messages(judy).length === 1 && cyrus!.messages(mallory).length === 1,
      'the mailboxes filled',
    );
    await cyrus!.setQuota(judy, 0);
    await cyrus!.setQuota(mallory, 0);

    const bounced = queueIdOf(await send(relay!.port, SENDER, [judy], 'judy over quota'));
    const kept = queueIdOf(await send(relay!.port, SENDER, [mallory], 'mallory over quota'));
    const overQuota = expect.stringMatching(/^552 5\.2\.2 Over quota\b/) as unknown;

    // mailboxFull: bounce: a permanent refusal, held for the guard's window (one refusal is no burst), then bounced.
    await waitForCyrus(() => relay!.events('Bounce').some((record) => record.queueId === bounced), 'the bounce');
    expect(relay!.events('PermanentFailure').filter((record) => record.queueId === bounced)).toEqual([
      expect.objectContaining({
        recipient: judy,
        mailstore: 'cyrus-bounce',
        reply: overQuota,
        category: 'mailbox-full',
        suspect: true,
      }),
    ]);
    expect(relay!.events('SuspectSettled')).toEqual([expect.objectContaining({ recipient: judy, fate: 'bounce' })]);
    expect(smarthost!.messages).toHaveLength(1);
    const dsn = smarthost!.messages[0]!;
    expect(dsn.to).toEqual([SENDER]);
    expect(dsn.body).toContain(`Final-Recipient: rfc822; ${judy}`);
    expect(dsn.body).toMatch(/^Status: 5\.2\.2\s*$/m);
    expect(dsn.body).toMatch(/Diagnostic-Code: smtp; 552 5\.2\.2 Over quota/);
    expect((await storeStatus('cyrus-bounce')).state.kind).toBe('open'); // no guard for one full mailbox
    await waitFor(async () => queued(await storeStatus('cyrus-bounce')) === 0, 10_000, 'the bounced job done');
    expect(holdfastQueueIds(cyrus!.messages(judy))).toEqual([fills[0]]);

    // mailboxFull: defer: the same reply is kept and retried, never bounced.
    const deferrals = () =>
      relay!.events('TransientFailure').filter((record) => record.queueId === kept && record.reply);
    await waitForCyrus(() => deferrals().length >= 2, 'mallory deferred twice');
    expect(deferrals()[0]).toMatchObject({
      recipient: mallory,
      mailstore: 'cyrus-defer',
      reply: overQuota,
      category: 'mailbox-full',
    });
    expect(relay!.events('PermanentFailure').filter((record) => record.mailstore === 'cyrus-defer')).toEqual([]);
    expect(queued(await storeStatus('cyrus-defer'))).toBe(1);
    expect(cyrus!.messages(mallory)).toHaveLength(1);

    await cyrus!.setQuota(mallory, 10_240);
    await waitForCyrus(() => holdfastQueueIds(cyrus!.messages(mallory)).includes(kept), 'delivery after the raise');
    expect(holdfastQueueIds(cyrus!.messages(mallory))).toEqual([fills[1], kept].sort());
    expect(cyrus!.messages(mallory)[1]).toMatch(/^Subject: mallory over quota$/m);
    expect(relay!.events('Bounce').map((record) => record.queueId)).toEqual([bounced]);
    expect(relay!.events('Expiration')).toEqual([]);
  }, 180_000);
});

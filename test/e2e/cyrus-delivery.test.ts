// Scenario: Holdfast delivers to a real Cyrus IMAP (Debian's cyrus-imapd 3.6): over lmtpd on TCP with
// LMTP AUTH, over lmtpd's unix socket, to a store configured without the credentials Cyrus demands,
// and to a user over quota.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_HINT } from '../../src/delivery/trip.js';
import { startCyrus, type TestCyrus } from '../helpers/cyrus.js';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';

const SENDER = 'sender@remote.test';
/** One user per store, all in the one Cyrus (which drops the domain: alice@example.com is user.alice). */
const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
const CAROL = 'carol@example.com';
const DAVE = 'dave@example.com';

/** The queue id in the Received header Holdfast added, one per stored message. */
function holdfastQueueIds(messages: string[]): string[] {
  return messages.map((message) => /\(Holdfast\) with \S+ id ([^\s;]+)/.exec(message)?.[1] ?? 'none').sort();
}

describe('a relay delivering to a real Cyrus IMAP', () => {
  let redis: TestRedis;
  let cyrus: TestCyrus;
  let relay: TestRelay;

  /** waitFor, with Cyrus's log in the error when it times out. */
  const waitForCyrus = async (condition: () => boolean | Promise<boolean>, what: string) => {
    try {
      await waitFor(condition, 60_000, what);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- cyrus log ---\n${cyrus.log()}`, { cause: error });
    }
  };
  const storeStatus = async (mailstore: string) =>
    (await relay.app.mailstoreAdmin!.status()).find((status) => status.mailstore === mailstore);

  beforeAll(async () => {
    // One at a time, so that afterAll stops whatever started if a later one fails.
    redis = await startTestRedis();
    cyrus = await startCyrus({ users: [ALICE, BOB, CAROL, DAVE] });
    const credentials = { user: cyrus.lmtpUser, pass: cyrus.lmtpPassword };
    const port = cyrus.lmtpPort;
    const config = testConfig(
      redis.url,
      { 'cyrus-tcp': port, 'cyrus-socket': port, 'cyrus-noauth': port, 'cyrus-quota': port },
      {
        routing: {
          users: { [ALICE]: 'cyrus-tcp', [BOB]: 'cyrus-socket', [CAROL]: 'cyrus-noauth', [DAVE]: 'cyrus-quota' },
        },
        mailstores: {
          'cyrus-tcp': { auth: { ...credentials, method: 'PLAIN' } },
          'cyrus-socket': { endpoints: [`unix:${cyrus.lmtpSocket}`] },
          'cyrus-quota': { auth: credentials },
        },
      },
    );
    relay = await startRelay(config);
  });

  afterAll(async () => {
    await relay?.stop();
    await cyrus?.cleanup();
    await redis?.cleanup();
  });

  it("delivers to Cyrus's lmtpd on TCP when the store is configured with its LMTP credentials", async () => {
    const queueId = queueIdOf(await send(relay.port, SENDER, [ALICE], 'over tcp with auth'));

    await waitForCyrus(() => holdfastQueueIds(cyrus.messages(ALICE)).includes(queueId), 'delivery to user.alice');
    const [message] = cyrus.messages(ALICE);
    expect(message).toMatch(/^Subject: over tcp with auth$/m);
    // Cyrus writes "with LMTPA" in its Received header for an authenticated LMTP session.
    expect(message).toMatch(/by cyrus\.test \(Cyrus [^)]+\) with LMTPA;/);
    const login = new RegExp(`lmtp\\[\\d+\\]: login: .* ${cyrus.lmtpUser} PLAIN User logged in`);
    await waitForCyrus(() => login.test(cyrus.log()), "lmtpd's log of the LMTP login");
    // Holdfast logs the delivery once it has Cyrus's reply, a moment after Cyrus stored the message.
    await waitForCyrus(
      () => relay.events('Delivery').some((record) => record.queueId === queueId && record.recipient === ALICE),
      "Holdfast's record of the delivery",
    );
    expect(relay.events('Delivery')).toContainEqual(
      expect.objectContaining({ queueId, recipient: ALICE, mailstore: 'cyrus-tcp' }),
    );
    expect(JSON.stringify(relay.logs)).not.toContain(cyrus.lmtpPassword);
  }, 120_000);

  it("delivers to Cyrus's lmtpd over its unix socket", async () => {
    const queueId = queueIdOf(await send(relay.port, SENDER, [BOB], 'over the socket'));

    await waitForCyrus(() => holdfastQueueIds(cyrus.messages(BOB)).includes(queueId), 'delivery to user.bob');
    expect(cyrus.messages(BOB)).toHaveLength(1);
    expect(cyrus.messages(BOB)[0]).toMatch(/^Subject: over the socket$/m);
    await waitForCyrus(
      () => relay.events('Delivery').some((record) => record.queueId === queueId && record.recipient === BOB),
      "Holdfast's record of the delivery",
    );
    expect(relay.events('Delivery')).toContainEqual(
      expect.objectContaining({ queueId, recipient: BOB, mailstore: 'cyrus-socket' }),
    );
  }, 120_000);

  it('defers, without bouncing, and names the fix in status when Cyrus demands authentication and none is configured', async () => {
    const queueId = queueIdOf(await send(relay.port, SENDER, [CAROL], 'no credentials'));

    await waitForCyrus(
      async () => (await storeStatus('cyrus-noauth'))?.lastError?.error.includes(AUTH_HINT) === true,
      "the store's last error to say to set its auth",
    );
    const status = await storeStatus('cyrus-noauth');
    expect(status!.lastError!.error).toContain('430 Authentication required');
    const deferred = relay.events('TransientFailure').filter((record) => record.queueId === queueId);
    expect(deferred[0]).toMatchObject({
      level: 'error',
      recipient: CAROL,
      reply: '430 Authentication required',
      category: 'auth-required',
    });
    expect(deferred[0]!.msg).toContain(AUTH_HINT);
    // Still queued, for when the operator sets the credentials.
    expect(status!.counts.waiting + status!.counts.delayed + status!.counts.active).toBe(1);
    expect(cyrus.messages(CAROL)).toEqual([]);
    expect(relay.events('PermanentFailure').filter((record) => record.queueId === queueId)).toEqual([]);
    expect(relay.events('Bounce')).toEqual([]);
  }, 120_000);

  it('a user over quota (452 4.2.2) is deferred, and delivered once the quota is raised', async () => {
    // Cyrus refuses only a mailbox already over its quota (lmtp_strict_quota off, the default): fill it first.
    const first = queueIdOf(await send(relay.port, SENDER, [DAVE], 'fills the mailbox'));
    await waitForCyrus(() => holdfastQueueIds(cyrus.messages(DAVE)).includes(first), 'the first delivery to dave');
    await cyrus.setQuota(DAVE, 0);

    const queueId = queueIdOf(await send(relay.port, SENDER, [DAVE], 'over quota'));
    const deferrals = () =>
      relay.events('TransientFailure').filter((record) => record.queueId === queueId && record.recipient === DAVE);
    await waitForCyrus(() => deferrals().length > 0, 'a deferral over quota');
    // lmtp_over_quota_perm_failure off (Cyrus's default): a temporary refusal at RCPT TO.
    expect(deferrals()[0]).toMatchObject({
      reply: expect.stringMatching(/^452 4\.2\.2 Over quota\b/) as unknown,
      category: 'mailbox-full',
    });
    expect(cyrus.messages(DAVE)).toHaveLength(1);

    await cyrus.setQuota(DAVE, 10_240);
    await waitForCyrus(() => holdfastQueueIds(cyrus.messages(DAVE)).includes(queueId), 'delivery after the raise');
    expect(holdfastQueueIds(cyrus.messages(DAVE))).toEqual([first, queueId].sort());
    expect(cyrus.messages(DAVE)[1]).toMatch(/^Subject: over quota$/m);
    expect(relay.events('PermanentFailure').filter((record) => record.mailstore === 'cyrus-quota')).toEqual([]);
    expect(relay.events('Bounce')).toEqual([]);
  }, 120_000);
});

// Scenario: Holdfast delivers over LMTP to two real Dovecot mailstores, through an outage and an unknown user.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import { startDovecot, type TestDovecot } from '../helpers/dovecot.js';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';

const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
const GHOST = 'ghost@example.com';
const SENDER = 'sender@remote.test';

/** The queue id in the Received header Holdfast added, one per stored message. */
function holdfastQueueIds(messages: string[]): string[] {
  return messages.map((message) => /\(Holdfast\) with \S+ id ([^\s;]+)/.exec(message)?.[1] ?? 'none').sort();
}

describe('a relay delivering to two real Dovecot LMTP mailstores', () => {
  let redis: TestRedis;
  let relay: TestRelay;
  let store1: TestDovecot;
  let store2: TestDovecot;
  const smarthost = new FakeMailstore('smtp');

  beforeAll(async () => {
    // One at a time, so that afterAll stops whatever started if a later one fails.
    redis = await startTestRedis();
    // Both stores know both users, so mail routed to the wrong store would land there, not bounce.
    store1 = await startDovecot({ users: [ALICE, BOB] });
    store2 = await startDovecot({ users: [ALICE, BOB] });
    const config = testConfig(
      redis.url,
      { store1: store1.port, store2: store2.port },
      {
        routing: { users: { [GHOST]: 'store1' } },
        // A lone unknown user bounces once the guard's window shows no burst: keep it short here.
        mailstores: { store1: { guard: { window: '1s' } } },
        bounces: { smarthost: `127.0.0.1:${await smarthost.start()}` },
      },
    );
    relay = await startRelay(config);
  });

  afterAll(async () => {
    await relay?.stop();
    await smarthost.stop();
    await Promise.all([store1?.cleanup(), store2?.cleanup()]);
    await redis?.cleanup();
  });

  it('delivers mail for users on two Dovecot stores into the right Maildir', async () => {
    const queueId = async (to: string[], subject: string) => queueIdOf(await send(relay.port, SENDER, to, subject));
    const toAlice = [await queueId([ALICE], 'for alice 1'), await queueId([ALICE], 'for alice 2')];
    const toBob = [await queueId([BOB], 'for bob')];
    const toBoth = await queueId([ALICE, BOB], 'for both');

    await waitFor(
      () => store1.messages(ALICE).length >= 3 && store2.messages(BOB).length >= 2,
      20_000,
      'delivery into both Maildirs',
    );
    expect(holdfastQueueIds(store1.messages(ALICE))).toEqual([...toAlice, toBoth].sort());
    expect(holdfastQueueIds(store2.messages(BOB))).toEqual([...toBob, toBoth].sort());
    expect(store1.messages(BOB)).toEqual([]);
    expect(store2.messages(ALICE)).toEqual([]);
    for (const message of [...store1.messages(ALICE), ...store2.messages(BOB)]) {
      expect(message).toMatch(/^Subject: for (alice \d|bob|both)$/m);
    }
  });

  it('keeps mail queued while a Dovecot store is stopped and delivers it when it is back', async () => {
    await store2.stop();
    const before = store2.messages(BOB).length;
    const queueId = queueIdOf(await send(relay.port, SENDER, [BOB], 'while store2 is down'));

    await waitFor(
      () => relay.events('Attempt').some((record) => record.queueId === queueId && record.mailstore === 'store2'),
      20_000,
      'a failed attempt to reach store2',
    );
    expect(store2.messages(BOB)).toHaveLength(before);

    await store2.restart();
    await waitFor(() => holdfastQueueIds(store2.messages(BOB)).includes(queueId), 30_000, 'delivery after restart');
    expect(store2.messages(BOB)).toHaveLength(before + 1);
    expect(relay.events('Bounce')).toEqual([]);
  });

  it('bounces a user Dovecot does not know, with the 550 5.1.1 reply in the DSN', async () => {
    const queueId = queueIdOf(await send(relay.port, SENDER, [GHOST], 'for nobody'));

    await waitFor(() => smarthost.messages.length === 1, 20_000, 'a bounce at the smarthost');
    const bounce = smarthost.messages[0]!;
    expect(bounce.from).toBe('');
    expect(bounce.to).toEqual([SENDER]);
    const dsn = await simpleParser(bounce.body);
    expect(dsn.text).toContain('550 5.1.1');
    expect(bounce.body).toContain(`Diagnostic-Code: smtp; 550 5.1.1 <${GHOST}>`);
    expect(relay.events('Bounce')).toEqual([expect.objectContaining({ queueId, recipients: [GHOST] })]);
    expect(store1.messages(GHOST)).toEqual([]);
  });
});

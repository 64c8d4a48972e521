// Scenario: a store comes back with an empty mailbox database and calls every user unknown.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { send } from '../helpers/smtp-client.js';
import { holdfastCli, writeCliConfig } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

const users = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, index) => `${prefix}${index}@example.com`);

describe('the 5xx guard', () => {
  let redis: TestRedis;
  let relay: TestRelay;
  let directory: string;
  const store1 = new FakeMailstore();
  const store2 = new FakeMailstore();
  const smarthost = new FakeMailstore('smtp');
  let emptyDatabase = true;
  const first = users('user', 6);
  const second = users('later', 4);

  beforeAll(async () => {
    redis = await startTestRedis();
    directory = mkdtempSync(join(tmpdir(), 'holdfast-guard-'));
    store2.replyFor = (recipient) => (emptyDatabase ? `550 5.1.1 <${recipient}>: User unknown` : '250');
    const routes = Object.fromEntries([...first, ...second].map((user) => [user, 'store2']));
    const config = testConfig(
      redis.url,
      { store1: await store1.start(), store2: await store2.start() },
      {
        routing: { users: routes },
        mailstores: { store2: { guard: { threshold: 3, window: '30s' } } },
        bounces: { smarthost: `127.0.0.1:${await smarthost.start()}` },
      },
    );
    relay = await startRelay(config);
  });

  afterAll(async () => {
    await relay?.stop();
    await Promise.all([store1.stop(), store2.stop(), smarthost.stop()]);
    await redis?.cleanup();
    rmSync(directory, { recursive: true, force: true });
  });

  const guarded = () => relay.events('MailstoreState').filter((record) => record.action === 'guard');

  it('guards the store instead of bouncing, keeps its mail, and delivers all of it after release', async () => {
    for (const user of first) await send(relay.port, 'sender@remote.test', ['alice@example.com', user], `for ${user}`);
    await waitFor(() => guarded().length === 1, 20_000, 'the guard');
    expect(guarded()[0]).toMatchObject({
      level: 'error',
      mailstore: 'store2',
      by: 'holdfast',
      from: 'open',
      to: 'guarded',
    });
    await waitFor(() => store1.delivered('alice@example.com').length === 6); // the healthy store is not held up
    await sleep(1000);
    expect(smarthost.messages).toHaveLength(0); // zero bounces
    const [, store2Status] = await relay.app.mailstoreAdmin!.status();
    expect(store2Status).toMatchObject({ mailstore: 'store2', state: { kind: 'guarded' } });

    emptyDatabase = false; // the mailboxes database is restored
    await relay.app.mailstoreAdmin!.release('store2', { by: 'ops' });
    await waitFor(() => first.every((user) => store2.delivered(user).length === 1), 20_000, 'every message delivered');
    expect(smarthost.messages).toHaveLength(0);
  });

  it('bounces the kept recipients when the operator confirms the bounces', async () => {
    emptyDatabase = true;
    for (const user of second) await send(relay.port, 'sender@remote.test', [user], `for ${user}`);
    await waitFor(() => guarded().length === 2, 20_000, 'the second guard');
    await sleep(500);
    expect(smarthost.messages).toHaveLength(0);
    // The recipients the guard kept are bounced on confirmation; one first tried after it would
    // wait out its own window (a new burst may be building) before bouncing.
    const kept = relay
      .events('PermanentFailure')
      .map((record) => record.recipient as string)
      .filter((recipient) => second.includes(recipient));
    expect(kept.length).toBeGreaterThanOrEqual(3);

    const cli = writeCliConfig(directory, relay);
    const confirmed = await holdfastCli(cli, 'confirm-bounces', 'store2', '--by', 'ops', '--reason', 'users left');
    expect(confirmed).toMatchObject({ code: 0, stdout: 'store2: bounces confirmed, delivery resumed\n' });
    await waitFor(() => smarthost.messages.length >= kept.length, 20_000, 'the confirmed bounces');
    for (const user of kept) {
      expect(smarthost.messages.some((message) => message.body.includes(`Final-Recipient: rfc822; ${user}`))).toBe(
        true,
      );
    }
    const [latest] = JSON.parse((await holdfastCli(cli, 'audit', '--json', '-n', '1')).stdout) as unknown[];
    expect(latest).toMatchObject({
      action: 'confirm-bounces',
      by: 'ops',
      reason: 'users left',
      from: 'guarded',
      to: 'open',
    });
  });
});

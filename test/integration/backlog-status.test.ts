// Scenario: a store's status shows its backlog (count, bytes, oldest age, mail close to expiry) without reading jobs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { freePort } from '../helpers/ports.js';
import { send } from '../helpers/smtp-client.js';
import { holdfastCli, writeCliConfig } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

const DAY = 86_400_000;

describe('the backlog in a store status (injected clock)', () => {
  let redis: TestRedis;
  let relay: TestRelay;
  let directory: string;
  let port: number;
  const store = new FakeMailstore();
  /** Days added to the real clock: Holdfast's policy clock moves on while BullMQ's delays stay short. */
  let offset = 0;

  beforeAll(async () => {
    redis = await startTestRedis();
    directory = mkdtempSync(join(tmpdir(), 'holdfast-backlog-'));
    port = await freePort(); // nothing listens yet: the store is down
    const config = testConfig(
      redis.url,
      { store1: port },
      { mailstores: { store1: { lifetime: '5d', retry: '1s', trip: { enabled: false } } } },
    );
    relay = await startRelay(config, { now: () => Date.now() + offset });
  });

  afterAll(async () => {
    await relay?.stop();
    await store.stop();
    await redis?.cleanup();
    rmSync(directory, { recursive: true, force: true });
  });

  const backlog = async () => (await relay.app.mailstoreAdmin!.status())[0]!.backlog;

  it('counts the mail, its age, what will expire within a day, and forgets what is delivered or deleted', async () => {
    expect(await backlog()).toMatchObject({ messages: 0, bytes: 0, expiringSoon: 0, expiringWithinSeconds: 86_400 });

    await send(relay.port, 'first@remote.test', ['alice@example.com'], 'the first message');
    offset = 2 * DAY;
    await send(relay.port, 'second@remote.test', ['alice@example.com'], 'the second message');
    const two = await backlog();
    expect(two.messages).toBe(2);
    expect(two.bytes).toBeGreaterThan(2 * 'the first message'.length);
    expect(two.oldestAgeSeconds).toBeGreaterThanOrEqual((2 * DAY) / 1000);
    // The shape, like qshape: one message under 5 minutes old, one older than 1280 minutes.
    expect(two.shape).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    // The store is down: the status says why, once an attempt has failed.
    const failed = async () => (await relay.app.mailstoreAdmin!.status())[0]!.lastError !== undefined;
    await waitFor(failed, 10_000, 'a failed attempt');
    const [status] = await relay.app.mailstoreAdmin!.status();
    expect(status!.lastError?.error).toContain(`127.0.0.1:${port}`);

    offset = 4.5 * DAY; // the first has used 4.5 of its 5 days: in its last day
    expect(await backlog()).toMatchObject({ messages: 2, expiringSoon: 1 });

    // Held time does not count: a day and a half held later, the second is still far from expiry.
    await relay.app.mailstoreAdmin!.hold('store1', { reason: 'storage failure', by: 'ops' });
    offset = 6 * DAY;
    const held = await backlog();
    expect(held).toMatchObject({ messages: 2, expiringSoon: 1 });
    expect(held.oldestAgeSeconds).toBeGreaterThanOrEqual((6 * DAY) / 1000);

    const cli = (...args: string[]) => holdfastCli(writeCliConfig(directory, relay), ...args);
    const deleted = await cli('queue', 'delete', '--sender', 'first@remote.test', '--reason', 'test');
    expect(deleted.code, deleted.stdout + deleted.stderr).toBe(0);
    expect(await backlog()).toMatchObject({ messages: 1, expiringSoon: 0 });

    await store.start(port);
    await relay.app.mailstoreAdmin!.release('store1', { by: 'ops' });
    await waitFor(() => store.messages.length === 1);
    await waitFor(async () => (await backlog()).messages === 0);
    expect(await backlog()).toMatchObject({ messages: 0, bytes: 0, expiringSoon: 0 });
    expect((await backlog()).oldestAgeSeconds).toBeUndefined();
  });
});

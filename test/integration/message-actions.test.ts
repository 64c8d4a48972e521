// Scenario: an operator holds, releases and retries single messages by queue id, and in bulk after a dry run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { freePort } from '../helpers/ports.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { holdfastCli, writeCliConfig } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

describe('operator actions on queued messages', () => {
  let redis: TestRedis;
  let relay: TestRelay;
  let directory: string;
  let cli: (...args: string[]) => ReturnType<typeof holdfastCli>;
  let store2Port: number;
  const store1 = new FakeMailstore();
  const store2 = new FakeMailstore();

  beforeAll(async () => {
    redis = await startTestRedis();
    directory = mkdtempSync(join(tmpdir(), 'holdfast-messages-'));
    store2Port = await freePort(); // store2 is down until a test starts it
    const ports = { store1: await store1.start(), store2: store2Port };
    // store2 retries only hourly: a message deferred there waits unless an operator retries it.
    const store2Policy = { retry: '1h', trip: { enabled: false } };
    relay = await startRelay(testConfig(redis.url, ports, { mailstores: { store2: store2Policy } }));
    cli = (...args) => holdfastCli(writeCliConfig(directory, relay), ...args);
  });

  afterAll(async () => {
    await relay?.stop();
    await Promise.all([store1.stop(), store2.stop()]);
    await redis?.cleanup();
    rmSync(directory, { recursive: true, force: true });
  });

  it('keeps one held message back while the others go, and delivers it at once when released', async () => {
    await relay.app.mailstoreAdmin!.hold('store1', { reason: 'maintenance', by: 'ops' });
    const ids: string[] = [];
    for (const subject of ['first', 'second', 'third']) {
      ids.push(queueIdOf(await send(relay.port, 'sender@remote.test', ['alice@example.com'], subject)));
    }
    const held = await cli('queue', 'hold', '--queue-id', ids[1]!, '--reason', 'customer asked', '--by', 'ops');
    expect(held).toMatchObject({ code: 0, stdout: expect.stringMatching(/^held 1 of 1 messages/) as string });

    await relay.app.mailstoreAdmin!.release('store1', { by: 'ops', rate: 100 });
    await waitFor(() => store1.messages.length === 2);
    await sleep(500); // the held one would show up by now
    expect(store1.messages.map((message) => message.body.match(/Subject: (\w+)/)?.[1])).toEqual(['first', 'third']);
    expect((await cli('queue', 'list', '--queue-id', ids[1]!)).stdout).toContain(`${ids[1]}  store1  held`);

    const released = await cli('queue', 'release', '--queue-id', ids[1]!, '--by', 'ops');
    expect(released.stdout).toMatch(/^released 1 of 1 messages/);
    await waitFor(() => store1.messages.length === 3);
    const [entry] = JSON.parse((await cli('audit', '--json', '-n', '2')).stdout) as Array<Record<string, unknown>>;
    expect(entry).toMatchObject({ action: 'release-messages', by: 'ops', queueIds: [ids[1]] });
  });

  it('tries a deferred message now when told to, instead of at its next hourly retry', async () => {
    const queueId = queueIdOf(await send(relay.port, 'sender@remote.test', ['bob@example.com'], 'deferred'));
    await waitFor(async () => (await cli('queue', 'list', '--queue-id', queueId)).stdout.includes('delayed'));
    await store2.start(store2Port);
    const retried = await cli('queue', 'retry', '--store', 'store2', '--by', 'ops');
    expect(retried.stdout).toMatch(/^retried 1 of 1 messages/);
    await waitFor(() => store2.delivered('bob@example.com').length === 1);
  });

  it('counts first with a dry run, holds exactly that, and refuses an action with no selection', async () => {
    await relay.app.mailstoreAdmin!.hold('store1', { reason: 'maintenance', by: 'ops' });
    for (let index = 0; index < 3; index++)
      await send(relay.port, 'bulk@remote.test', ['carol@example.com'], `b${index}`);
    await send(relay.port, 'other@remote.test', ['carol@example.com'], 'other');

    const dryRun = await cli('queue', 'hold', '--sender', 'bulk@remote.test', '--dry-run');
    expect(dryRun.stdout).toMatch(/^would hold 3 messages, \d+ bytes, 1 users \(sender=bulk@remote.test\)/);
    expect((await cli('queue', 'hold', '--reason', 'no selection')).code).toBe(65);
    expect((await cli('queue', 'hold', '--sender', 'bulk@remote.test')).code).toBe(65); // no reason
    const done = await cli('queue', 'hold', '--sender', 'bulk@remote.test', '--reason', 'suspected loop');
    expect(done.stdout).toMatch(/^held 3 of 3 messages/);

    const before = store1.messages.length;
    await relay.app.mailstoreAdmin!.release('store1', { by: 'ops', rate: 100 });
    await waitFor(() => store1.messages.length === before + 1);
    await sleep(500);
    expect(store1.messages.length).toBe(before + 1); // only "other"
    expect((await cli('queue', 'release', '--all', '--by', 'ops')).stdout).toMatch(/^released 3 of 3 messages/);
    await waitFor(() => store1.messages.length === before + 4);
  });
});

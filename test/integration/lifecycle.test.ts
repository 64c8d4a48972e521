// Scenario: starting (config errors, durability checks), shutting down gracefully, keeping failures.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import type { DeliveryJobData } from '../../src/queue/job-data.js';
import { createKeys } from '../../src/queue/keys.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startRelay, testConfig } from '../helpers/relay.js';
import { SmtpDialog, queueIdOf, send, testMessage } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);

describe('holdfast check-config and start with an invalid file', () => {
  let directory: string;
  beforeAll(() => {
    directory = mkdtempSync(join(tmpdir(), 'holdfast-config-'));
  });
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('lists every problem and exits with 78', async () => {
    const file = join(directory, 'bad.yaml');
    writeFileSync(
      file,
      [
        'listener: { port: 70000 }',
        'domains: { example.com: { mailstore: nowhere } }',
        'mailstores:',
        '  store1: { endpoints: ["no-port"], retry: "soon" }',
      ].join('\n'),
    );
    for (const command of ['check-config', 'start']) {
      const failure = await run('node', ['bin/holdfast.js', command, '--config', file]).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => error,
      );
      expect(failure.code).toBe(78);
      expect(failure.stderr).toContain('listener.port');
      expect(failure.stderr).toContain('mailstores.store1.endpoints.0: not host:port or unix:/path: no-port');
      expect(failure.stderr).toContain('mailstores.store1.retry: not a retry schedule');
      expect(failure.stderr).toContain('domains.example.com.mailstore: unknown mailstore "nowhere"');
    }
  });
});

describe('starting on a Redis that does not fsync every write', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis();
    await redis.client.config('SET', 'appendfsync', 'everysec');
  });
  afterAll(async () => redis?.cleanup());

  it('refuses to start when durability is strict', async () => {
    await expect(startRelay(testConfig(redis.url, { store1: 1 }))).rejects.toMatchObject({ code: 'REDIS_NOT_DURABLE' });
  });

  it('starts with a warning when durability is relaxed', async () => {
    const relay = await startRelay(testConfig(redis.url, { store1: 1 }, { redis: { durability: 'relaxed' } }));
    try {
      expect(relay.events('RedisNotDurable')[0]).toMatchObject({
        problems: ['appendfsync is "everysec", needs "always"'],
      });
    } finally {
      await relay.stop();
    }
  });
});

describe('graceful shutdown', () => {
  let redis: TestRedis;
  const store = new FakeMailstore();
  beforeAll(async () => {
    redis = await startTestRedis();
    await store.start();
  });
  afterAll(async () => {
    await store.stop();
    await redis?.cleanup();
  });

  it('answers 421 to new connections while an open transaction finishes with 250', async () => {
    const relay = await startRelay(testConfig(redis.url, { store1: store.port }));
    const { dialog } = await SmtpDialog.open(relay.port);
    await dialog.command('EHLO client.test');
    await dialog.command('MAIL FROM:<sender@remote.test>');
    await dialog.command('RCPT TO:<alice@example.com>');
    const stopped = relay.stop();
    await waitFor(() => relay.events('Stopping').length === 1);

    const { dialog: newcomer, greeting } = await SmtpDialog.open(relay.port);
    expect(greeting).toMatch(/^421 4\.3\.2 /);
    newcomer.close();

    expect(await dialog.command('DATA')).toMatch(/^354/);
    dialog.write(`${testMessage('during shutdown').replace(/\n/g, '\r\n')}.\r\n`);
    const reply = await dialog.reply();
    expect(reply).toMatch(/^250 2\.0\.0 Ok: queued as /);
    dialog.close();
    await stopped;
    // Acknowledged during shutdown: delivered by the draining workers, or still safely queued.
    const queueId = queueIdOf(reply);
    const delivered = store.messages.some((message) => message.body.includes(queueId));
    const queued = await redis.client.exists(createKeys(relay.config.redis.prefix).jobBody('store1', queueId));
    expect(delivered || queued === 1).toBe(true);
  });

  it('does not wait out the grace for a session that reset its transaction and went idle', async () => {
    // A 10-minute grace: the test's own timeout (60 s) fails it if the shutdown waits for the session.
    const relay = await startRelay(testConfig(redis.url, { store1: store.port }, { shutdown: { grace: '10m' } }));
    const { dialog } = await SmtpDialog.open(relay.port);
    await dialog.command('EHLO client.test');
    await dialog.command('MAIL FROM:<sender@remote.test>');
    await dialog.command('RCPT TO:<alice@example.com>');
    expect(await dialog.command('RSET')).toMatch(/^250/);
    await relay.stop();
    expect(await dialog.reply()).toMatch(/^421 /); // told, once the listener closed
    dialog.close();
  });
});

describe('permanent failures without a bounce smarthost', () => {
  let redis: TestRedis;
  const store = new FakeMailstore();
  beforeAll(async () => {
    redis = await startTestRedis();
    store.replyFor = () => '550 5.7.1 Rejected by policy';
    await store.start();
  });
  afterAll(async () => {
    await store.stop();
    await redis?.cleanup();
  });

  it('keeps the failed message and its body for the operator instead of dropping it', async () => {
    // The refusal waits one 5xx-guard window before it counts as final: keep it short here.
    const guard = { window: '1s' };
    const relay = await startRelay(
      testConfig(redis.url, { store1: store.port }, { mailstores: { store1: { guard } } }),
    );
    try {
      const queueId = queueIdOf(await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'kept'));
      await waitFor(() => relay.events('BounceHeld').length === 1);
      const prefix = relay.config.redis.prefix;
      const queue = new Queue<DeliveryJobData>('store1', {
        connection: redis.client,
        prefix: createKeys(prefix).bullmqPrefix('store1'),
      });
      await waitFor(async () => (await queue.getJobState(queueId)) === 'failed');
      const job = await queue.getJob(queueId);
      expect(job?.data.failures).toEqual([
        expect.objectContaining({
          recipient: 'alice@example.com',
          reply: '550 5.7.1 Rejected by policy',
          status: '5.7.1',
        }),
      ]);
      expect(await redis.client.exists(createKeys(prefix).jobBody('store1', queueId))).toBe(1);
      // Kept mail is no longer waiting for the store: off its backlog (and its limits).
      const [status] = await relay.app.mailstoreAdmin!.status();
      expect(status!.backlog).toMatchObject({ messages: 0, bytes: 0 });
      expect(status!.counts.failed).toBe(1);
      await queue.close();
    } finally {
      await relay.stop();
    }
  });
});

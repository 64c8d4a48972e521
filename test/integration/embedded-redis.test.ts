// Scenario: with no Redis configured, Holdfast runs, supervises and stops its own redis-server.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedRedis } from '../../src/redis/embedded.js';
import { FakeMailstore } from '../helpers/mailstore.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { send } from '../helpers/smtp-client.js';
import { isRunning, waitFor } from '../helpers/wait.js';

describe('the managed local Redis', () => {
  let directory: string;
  let relay: TestRelay;
  const store = new FakeMailstore();

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'holdfast-embedded-'));
    // No Redis URL: Holdfast runs its own, with its data in the temp dir.
    const config = testConfig(
      undefined,
      { store1: await store.start() },
      {
        redis: { embedded: { dir: join(directory, 'redis') } },
        // Redis may die between moving a job to active and telling the worker: that job waits for
        // its lock to expire and the stalled-job check to take it over. Short here, 30 s by default.
        workers: { lockDuration: '2s', stalledInterval: '1s' },
      },
    );
    relay = await startRelay(config);
  });

  let stopped = false;
  afterAll(async () => {
    if (!stopped) await relay?.stop(); // a failed test must not leave its redis-server running
    await store.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('starts a durable redis-server, restarts it when it dies, and stops it on exit', async () => {
    expect(relay.events('RedisEmbeddedStarted')[0]).toMatchObject({
      url: `unix://${join(directory, 'redis', 'redis.sock')}`,
    });
    await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'before the crash');

    const firstPid = relay.app.embeddedRedisPid!;
    process.kill(firstPid, 'SIGKILL');
    await waitFor(() => relay.events('RedisEmbeddedExited').length === 1);
    await waitFor(
      () => relay.app.embeddedRedisPid !== firstPid && isRunning(relay.app.embeddedRedisPid!),
      10_000,
      'restart',
    );
    await waitFor(async () =>
      (await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'after').catch(() => '')).startsWith('250'),
    );
    // Both messages, however often (a crash mid-attempt may deliver one twice: at least once).
    const delivered = () =>
      ['before the crash', 'after'].every((text) => store.messages.some((m) => m.body.includes(text)));
    await waitFor(delivered, 20_000, 'both messages delivered').catch((error: Error) => {
      const problems = relay.logs.filter((record) => ['warn', 'error', 'fatal'].includes(record.level));
      throw new Error(`${error.message}; warnings and errors logged:\n${JSON.stringify(problems, null, 1)}`);
    });

    const secondPid = relay.app.embeddedRedisPid!;
    stopped = true;
    await relay.stop();
    expect(isRunning(secondPid)).toBe(false);
  });
});

describe('a redis-server left running on the data directory', () => {
  let directory: string;
  beforeAll(() => {
    directory = mkdtempSync(join(tmpdir(), 'holdfast-leftover-'));
  });
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('is stopped before a new one starts on the same append-only file, and keeps its data', async () => {
    const leftover = new EmbeddedRedis({ dir: directory, supervise: false });
    await leftover.start();
    const oldPid = leftover.pid!;
    const client = new Redis(leftover.location.url);
    await client.set('survives', 'yes');
    client.disconnect();

    const fresh = new EmbeddedRedis({ dir: directory, supervise: false });
    await fresh.start();
    try {
      expect(isRunning(oldPid)).toBe(false);
      expect(fresh.pid).not.toBe(oldPid);
      const reader = new Redis(fresh.location.url);
      expect(await reader.get('survives')).toBe('yes');
      reader.disconnect();
    } finally {
      await fresh.stop();
    }
  });
});

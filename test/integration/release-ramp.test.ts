// Scenario (a store that cannot take its backlog at full speed): a store held with a backlog is released slowly, ramping up while it answers well.
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

async function sendMany(port: number, count: number, recipient: string): Promise<void> {
  const batches = Array.from({ length: 10 }, (_, batch) => batch);
  await Promise.all(
    batches.map(async (batch) => {
      for (let index = batch; index < count; index += batches.length)
        await send(port, 'sender@remote.test', [recipient], `m${index}`);
    }),
  );
}

describe('a paced release', () => {
  const ramp = { startRate: 5, startConcurrency: 1, step: '1s', ceiling: 40 };
  const fixture = withRelay({
    stores: ['store1'],
    cli: true,
    config: { mailstores: { store1: { concurrency: 8, ramp } } },
  });
  const { store1: store } = fixture.stores;
  const { cli } = fixture;
  let queue: Queue;

  beforeAll(() => {
    const { relay, redis } = fixture;
    queue = new Queue('store1', {
      connection: redis.client,
      prefix: createKeys(relay.config.redis.prefix).bullmqPrefix('store1'),
    });
  });

  // afterAll hooks run last registered first: the queue is closed before the fixture stops Redis.
  afterAll(async () => {
    await queue?.close();
  });

  const audit = () => fixture.relay.events('MailstoreState').filter((record) => record.mailstore === 'store1');

  it('starts slow, doubles each step while the store answers well, and opens at the target', async () => {
    const { relay } = fixture;
    const admin = relay.app.mailstoreAdmin!;
    await admin.hold('store1', { reason: 'reindex storm', by: 'ops' });
    await sendMany(relay.port, 150, 'alice@example.com');
    expect(store.messages).toHaveLength(0);

    await admin.release('store1', { by: 'ops' });
    expect(await queue.getMeta()).toMatchObject({ paused: false, concurrency: 1, max: 5, duration: 1000 });
    await waitFor(() => audit().some((record) => record.action === 'open'), 20_000, 'the ramp to finish');
    const steps = audit()
      .filter((record) => record.action === 'ramp')
      .map((record) => record.reason);
    expect(steps.slice(0, 3)).toEqual([
      '10 msgs/s, 2 connections',
      '20 msgs/s, 4 connections',
      '40 msgs/s, 8 connections',
    ]);
    await waitFor(() => store.messages.length === 150, 20_000, 'every message');
    const meta = await queue.getMeta();
    expect(meta.concurrency).toBeUndefined(); // fully open: no global limits left
    expect(meta.max).toBeUndefined();
  });

  it('takes an explicit pace from the operator, shows progress, and opens when the queue is empty', async () => {
    const { relay } = fixture;
    await cli('hold', 'store1', '--reason', 'again');
    await sendMany(relay.port, 30, 'alice@example.com');
    const released = await cli('release', 'store1', '--rate', '2', '--concurrency', '1');
    expect(released).toMatchObject({ code: 0, stdout: 'store1 released at 2 msgs/s, 1 connections\n' });
    const status = await cli('status');
    expect(status.stdout).toMatch(/store1 +releasing .*2 msgs\/s, 1 connections \(explicit\), \d+ remaining ETA \d+s/);
    expect(await queue.getMeta()).toMatchObject({ concurrency: 1, max: 2, duration: 1000 });
    expect((await cli('release', 'store1', '--rate', 'fast')).code).toBe(65);
    expect((await cli('hold', 'store1', '--reason', 'abort the release')).code).toBe(0);
    expect((await cli('release', 'store1', '--rate', '50')).code).toBe(0);
    await waitFor(() => store.messages.length === 180, 30_000, 'every message');
    await waitFor(() => audit().filter((record) => record.action === 'open').length === 2, 10_000, 'open again');
  });
});

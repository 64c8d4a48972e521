// Unit test: recipients moved to another store are stored on the job at once, so a failing attempt cannot move them twice.
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';
import { createDeliverer, type DeliveryContext } from '../../../src/delivery/deliver.js';
import type { MailstoreClient } from '../../../src/delivery/mailstore-client.js';
import { createLogger } from '../../../src/observability/logger.js';
import type { DeliveryJobData } from '../../../src/queue/job-data.js';
import type { TraceEvent } from '../../../src/repositories/trace.js';

function config() {
  const result = validateConfig(
    {
      domains: { 'example.com': { mailstore: 'store1' } },
      mailstores: { store1: { endpoints: ['127.0.0.1:24'] }, store2: { endpoints: ['127.0.0.1:25'] } },
    },
    { baseDirectory: '/' },
  );
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.config;
}

describe('rerouting before an attempt that then fails', () => {
  it('checkpoints the job without the moved recipients before the attempt, and moves them once', async () => {
    const moved: string[][] = [];
    const checkpoints: DeliveryJobData[] = [];
    const traced: TraceEvent[] = [];
    const failingClient = {
      deliver: () => Promise.reject(new Error('the attempt blew up')),
    } as unknown as MailstoreClient;
    const context = {
      config: config(),
      logger: createLogger('silent', { write: () => undefined }),
      clients: new Map([['store1', failingClient]]),
      bounceSender: undefined,
      now: () => 1_000,
      random: () => 0.5,
      pausedIntervals: () => Promise.resolve([]),
      guardSettings: () => ({ enabled: true, threshold: 5, ratio: 0.5, windowMs: 60_000 }),
      guardEpisodes: () => Promise.resolve([]),
      recordOutcomes: () => Promise.resolve({ total: 0, refused: 0 }),
      guard: () => Promise.resolve(),
      tripSettings: () => ({ enabled: false, failures: 5, probeIntervalMs: 30_000 }),
      recordHealth: () => Promise.resolve(0),
      trip: () => Promise.resolve(),
      // bob moved to store2; alice stays on store1.
      resolve: (recipient: string) =>
        Promise.resolve({ kind: 'mailstore' as const, mailstore: recipient.startsWith('bob') ? 'store2' : 'store1' }),
      moveRecipients: (_job: DeliveryJobData, _jobId: string, _store: string, recipients: string[]) => {
        moved.push(recipients);
        return Promise.resolve('J2');
      },
      recordTrace: (events: TraceEvent[]) => traced.push(...events),
    } as DeliveryContext;
    const job: DeliveryJobData = {
      queueId: 'Q1',
      mailstore: 'store1',
      sender: 'a@remote.test',
      recipients: ['alice@example.com', 'bob@example.com'],
      failures: [],
      receivedAt: 0,
      attempts: 0,
      size: 10,
    };
    const deliver = createDeliverer(context);
    const checkpoint = (data: DeliveryJobData) => {
      checkpoints.push(structuredClone(data));
      return Promise.resolve();
    };

    await expect(deliver(job, Buffer.from('x'), checkpoint)).rejects.toThrow('the attempt blew up');
    expect(moved).toEqual([['bob@example.com']]);
    expect(checkpoints).toHaveLength(1);
    expect(checkpoints[0]!.recipients).toEqual(['alice@example.com']);
    // The move is in the message trace although the attempt then failed.
    expect(traced).toMatchObject([
      { queueId: 'Q1', kind: 'rerouted', mailstore: 'store2', recipients: ['bob@example.com'] },
    ]);

    // BullMQ runs the job again with what was checkpointed: bob is not moved a second time.
    await expect(deliver(checkpoints[0]!, Buffer.from('x'), checkpoint)).rejects.toThrow('the attempt blew up');
    expect(moved).toHaveLength(1);
  });
});

// Scenario: the trace store on a real Redis keeps within its bounds: event cap, retention, and failures that never throw.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { freePort } from '../helpers/ports.js';
import { createKeys, type Keys } from '../../src/queue/keys.js';
import { Trace, type TraceEvent, type TraceSettings } from '../../src/repositories/trace.js';

const MINUTE = 60_000;
const SETTINGS: TraceSettings = { retention: 10 * MINUTE, maxEventsPerMessage: 10, maxMessagesPerRecipient: 5 };

describe('the trace store', () => {
  let redis: TestRedis;
  let keys: Keys;
  let clock = 1_000_000;
  let trace: Trace;

  beforeAll(async () => {
    redis = await startTestRedis();
    keys = createKeys(`hf${Math.random().toString(36).slice(2, 8)}`);
    trace = new Trace(redis.client, keys, SETTINGS, { now: () => clock });
  });

  afterAll(async () => {
    await redis?.cleanup();
  });

  const event = (queueId: string, kind: TraceEvent['kind'], details: Partial<TraceEvent> = {}): TraceEvent => ({
    at: clock,
    queueId,
    kind,
    ...details,
  });

  it('puts the reception in the caller transaction and says how many commands it added', async () => {
    const transaction = redis.client.multi();
    const added = trace.addReception(
      transaction,
      event('Q0', 'accepted', { recipients: ['Ann@Example.com', 'bo@example.com'], messageId: 'm0@remote.test' }),
    );
    const results = await transaction.exec();
    expect(results).toHaveLength(added);
    expect(results!.every(([error]) => error === null)).toBe(true);
    expect(await trace.findByRecipient('ann@example.com')).toEqual(['Q0']);
    expect(await trace.findByMessageId('<m0@remote.test>')).toEqual(['Q0']);
    expect(await trace.events('Q0')).toMatchObject([{ queueId: 'Q0', kind: 'accepted', messageId: 'm0@remote.test' }]);
  });

  it('keeps the reception and the newest events when a message passes its cap', async () => {
    await trace.record([event('Q1', 'accepted', { recipients: ['cy@example.com'] })]);
    for (let attempt = 1; attempt <= 15; attempt++) {
      clock += 1000;
      await trace.record([event('Q1', 'deferred', { attempt, recipients: ['cy@example.com'] })]);
    }
    const events = await trace.events('Q1');
    expect(events).toHaveLength(SETTINGS.maxEventsPerMessage);
    expect(events[0]!.kind).toBe('accepted');
    expect(events.slice(1).map((stored) => stored.attempt)).toEqual([7, 8, 9, 10, 11, 12, 13, 14, 15]);
  });

  it('no longer finds a message once its latest event is older than the retention, and lets its keys expire with it', async () => {
    await trace.record([event('Q2', 'accepted', { recipients: ['di@example.com'] })], 'm2@remote.test');
    for (const key of [
      keys.traceEvents('Q2'),
      keys.traceByRecipient('di@example.com'),
      keys.traceByMessageId('m2@remote.test'),
    ]) {
      expect(await redis.client.pttl(key)).toBeGreaterThan(SETTINGS.retention - MINUTE);
      expect(await redis.client.pttl(key)).toBeLessThanOrEqual(SETTINGS.retention);
    }
    clock += SETTINGS.retention + 1;
    expect(await trace.findByRecipient('di@example.com')).toEqual([]);
    expect(await trace.findByMessageId('m2@remote.test')).toEqual([]);
  });

  it('leaves the index as the reception wrote it for events soon after, and points it at later ones', async () => {
    const receivedAt = clock;
    await trace.record([event('Q3', 'accepted', { recipients: ['em@example.com'] })], 'm3@remote.test');
    clock += 1000;
    await trace.record([event('Q3', 'delivered', { recipients: ['em@example.com'] })], 'm3@remote.test', receivedAt);
    expect(await redis.client.zscore(keys.traceByRecipient('em@example.com'), 'Q3')).toBe(String(receivedAt));
    clock += SETTINGS.retention / 2;
    await trace.record([event('Q3', 'delivered', { recipients: ['em@example.com'] })], 'm3@remote.test', receivedAt);
    expect(await redis.client.zscore(keys.traceByRecipient('em@example.com'), 'Q3')).toBe(String(clock));
    expect(await redis.client.zscore(keys.traceByMessageId('m3@remote.test'), 'Q3')).toBe(String(clock));
    expect((await trace.events('Q3')).map((stored) => stored.kind)).toEqual(['accepted', 'delivered', 'delivered']);
  });

  it('trims an index key to its bound now and then, and never returns more than the bound', async () => {
    for (let index = 0; index < 200; index++) {
      clock += 10;
      await trace.record([event(`T${index}`, 'accepted', { recipients: ['fo@example.com'] })]);
    }
    const stored = await redis.client.zcard(keys.traceByRecipient('fo@example.com'));
    // Trimmed at about one write in 16: far below the 200 written, a few above the bound.
    expect(stored).toBeLessThan(150);
    expect(await trace.findByRecipient('fo@example.com', 1000)).toHaveLength(SETTINGS.maxMessagesPerRecipient);
  });

  it('keeps the newest messages of a recipient within the bound, and never moves an entry back in time', async () => {
    for (let index = 0; index < 8; index++) {
      clock += 1000;
      await trace.record([event(`R${index}`, 'accepted', { recipients: ['ed@example.com'] })]);
    }
    await trace.record([{ ...event('R7', 'delivered', { recipients: ['ed@example.com'] }), at: clock - 60_000 }]);
    expect(await trace.findByRecipient('ed@example.com', 100)).toEqual(['R7', 'R6', 'R5', 'R4', 'R3']);
    expect(await trace.findByRecipient('ed@example.com', 2)).toEqual(['R7', 'R6']);
  });

  it('reports a write it could not make instead of throwing', async () => {
    const unreachable = new Redis({
      port: await freePort(),
      host: '127.0.0.1',
      enableOfflineQueue: false,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
    });
    const errors: unknown[] = [];
    const failing = new Trace(unreachable, keys, SETTINGS, { onError: (error) => errors.push(error), timeoutMs: 500 });
    await expect(failing.record([event('Q4', 'accepted', { recipients: ['fi@example.com'] })])).resolves.toBe(
      undefined,
    );
    expect(errors).toHaveLength(1);
    unreachable.disconnect();
  });
});

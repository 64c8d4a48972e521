// Scenario: the message trace shows what happened to each message, found by queue id, Message-ID or recipient.
import { describe, expect, it } from 'vitest';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';
import { createKeys } from '../../src/queue/keys.js';
import type { TraceKind } from '../../src/repositories/trace.js';
import type { TracedMessage, TraceQuery } from '../../src/admin/trace.js';

const DAY = 24 * 3_600_000;
const BOUND = 3;

describe('the message trace', () => {
  const fixture = withRelay({
    stores: ['store1'],
    smarthost: true,
    cli: true,
    config: {
      routing: { users: { 'dave@example.com': 'store1', 'erin@example.com': 'store1' } },
      mailstores: { store1: { guard: { window: '1s' } } },
      trace: { maxMessagesPerRecipient: BOUND },
    },
  });
  const { store1: store } = fixture.stores;
  const { cli } = fixture;
  let aliceDeferred = false;
  // alice's first delivery is deferred; carol is unknown to the store although routing knows her.
  store.replyFor = (recipient) => {
    if (recipient === 'carol@example.com') return '550 5.1.1 <carol@example.com>: User unknown';
    if (recipient === 'alice@example.com' && !aliceDeferred) {
      aliceDeferred = true;
      return '450 4.2.0 Mailbox busy';
    }
    return '250';
  };

  const lookup = (query: TraceQuery) => fixture.relay.app.traceAdmin!.lookup(query);
  const kinds = (message: TracedMessage | undefined) => message?.events.map((event) => event.kind) ?? [];
  const traceShows = async (queueId: string, kind: TraceKind) => kinds((await lookup({ queueId }))[0]).includes(kind);

  it('shows a message deferred once and then delivered: accepted, deferred with the 450, delivered, in order', async () => {
    const { relay } = fixture;
    const queueId = queueIdOf(await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'deferred once'));
    await waitFor(() => traceShows(queueId, 'delivered'), 20_000, 'the delivery in the trace');

    const [message] = await lookup({ queueId });
    expect(kinds(message)).toEqual(['accepted', 'deferred', 'delivered']);
    const [accepted, deferred, delivered] = message!.events;
    expect(accepted).toMatchObject({
      queueId,
      sender: 'sender@remote.test',
      recipients: ['alice@example.com'],
      messageId: 'deferredonce@remote.test',
      remote: '127.0.0.1',
    });
    expect(deferred).toMatchObject({
      mailstore: 'store1',
      recipients: ['alice@example.com'],
      reply: '450 4.2.0 Mailbox busy',
      attempt: 1,
      remote: `127.0.0.1:${store.port}`,
    });
    expect(deferred!.retryAt).toBeGreaterThan(deferred!.at);
    expect(delivered).toMatchObject({ recipients: ['alice@example.com'], attempt: 2 });
    expect(delivered!.reply).toMatch(/^250/);
  });

  it('finds that message by its Message-ID, with or without angle brackets, and by its recipient in any case', async () => {
    const [byQueueId] = await lookup({ messageId: 'deferredonce@remote.test' });
    expect(kinds(byQueueId)).toEqual(['accepted', 'deferred', 'delivered']);
    const queueId = byQueueId!.queueId;
    expect((await lookup({ messageId: '<deferredonce@remote.test>' })).map((found) => found.queueId)).toEqual([
      queueId,
    ]);
    expect((await lookup({ recipient: 'Alice@Example.COM' })).map((found) => found.queueId)).toEqual([queueId]);
    expect(await lookup({ messageId: 'deferredonce@remote.test', recipient: 'carol@example.com' })).toEqual([]);
    expect(await lookup({ messageId: 'never-sent@remote.test' })).toEqual([]);
  });

  it("shows the store's refusal of a user it does not know, then the bounce", async () => {
    const { relay } = fixture;
    const queueId = queueIdOf(await send(relay.port, 'sender@remote.test', ['carol@example.com'], 'unknown user'));
    await waitFor(() => traceShows(queueId, 'bounced'), 20_000, 'the bounce in the trace');

    const [message] = await lookup({ recipient: 'carol@example.com' });
    expect(kinds(message)).toEqual(['accepted', 'refused', 'bounced']);
    expect(message!.events[1]).toMatchObject({
      recipients: ['carol@example.com'],
      reply: '550 5.1.1 <carol@example.com>: User unknown',
      detail: 'kept by the 5xx guard for its window',
    });
    expect(message!.events[2]).toMatchObject({
      recipients: ['carol@example.com'],
      detail: 'DSN sent to <sender@remote.test>',
    });
  });

  it('shows who held and released a message, and why', async () => {
    const { relay } = fixture;
    await relay.app.mailstoreAdmin!.hold('store1', { reason: 'maintenance', by: 'ops' });
    const queueId = queueIdOf(await send(relay.port, 'sender@remote.test', ['erin@example.com'], 'held one'));
    expect((await cli('queue', 'hold', '--queue-id', queueId, '--reason', 'customer asked', '--by', 'ops')).code).toBe(
      0,
    );
    expect((await cli('queue', 'release', '--queue-id', queueId, '--by', 'ann')).code).toBe(0);
    await relay.app.mailstoreAdmin!.release('store1', { by: 'ops', rate: 100 });
    await waitFor(() => traceShows(queueId, 'delivered'), 20_000, 'the delivery in the trace');

    const [message] = await lookup({ queueId });
    expect(kinds(message)).toEqual(['accepted', 'held', 'released', 'delivered']);
    expect(message!.events[1]).toMatchObject({
      kind: 'held',
      by: 'ops',
      detail: 'customer asked',
      mailstore: 'store1',
    });
    expect(message!.events[2]).toMatchObject({ kind: 'released', by: 'ann', recipients: ['erin@example.com'] });

    // The same through the CLI, a client of the admin API's /trace.
    const traced = await cli('trace', '--recipient', 'erin@example.com');
    expect(traced.code).toBe(0);
    expect(traced.stdout).toMatch(new RegExp(`^${queueId}\n  .*accepted .*\n  .*held .*by ops  customer asked`));
    const json = JSON.parse((await cli('trace', '--queue-id', queueId, '--json')).stdout) as {
      messages: Array<{ queueId: string; events: Array<{ kind: string }> }>;
    };
    expect(json.messages[0]!.events.map((event) => event.kind)).toEqual(['accepted', 'held', 'released', 'delivered']);
    expect((await cli('trace')).code).toBe(65);
  });

  it("finds a recipient's messages within its bound, the most recently active first", async () => {
    const { relay, redis } = fixture;
    const sent: string[] = [];
    for (let index = 0; index < BOUND + 2; index++) {
      sent.push(queueIdOf(await send(relay.port, 'sender@remote.test', ['dave@example.com'], `bound ${index}`)));
    }
    await waitFor(() => store.delivered('dave@example.com').length === sent.length, 20_000, 'every delivery');
    await waitFor(async () => (await Promise.all(sent.map((id) => traceShows(id, 'delivered')))).every(Boolean));

    const index = createKeys(relay.config.redis.prefix).traceByRecipient('dave@example.com');
    // Trimmed now and then, not at each write: between trims it holds a few more than the bound.
    expect(await redis.client.zcard(index)).toBeGreaterThanOrEqual(BOUND);
    expect(await redis.client.zcard(index)).toBeLessThanOrEqual(sent.length);
    const found = await lookup({ recipient: 'dave@example.com', limit: 10 });
    expect(found).toHaveLength(BOUND);
    expect(sent).toEqual(expect.arrayContaining(found.map((message) => message.queueId)));
    // The API lists them by their latest event, newest first.
    const latest = found.map((message) => message.events.at(-1)!.at);
    expect(latest).toEqual([...latest].sort((first, second) => second - first));
  });

  it('takes about a kilobyte of Redis for a message deferred once and delivered', async () => {
    const { relay, redis } = fixture;
    const [message] = await lookup({ messageId: 'deferredonce@remote.test' });
    const keys = createKeys(relay.config.redis.prefix);
    const traceKeys = [
      keys.traceEvents(message!.queueId),
      keys.traceByMessageId('deferredonce@remote.test'),
      keys.traceByRecipient('alice@example.com'),
    ];
    const bytes = await Promise.all(traceKeys.map((key) => redis.client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')));
    const total = bytes.reduce<number>((sum, size) => sum + Number(size), 0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThan(1500);
  });

  it('sets the retention as the time to live of every trace key', async () => {
    const { relay, redis } = fixture;
    const keys = await redis.client.keys(`${relay.config.redis.prefix}:trace:*`);
    const families = new Set(keys.map((key) => key.split(':')[2]));
    expect([...families].sort()).toEqual(['events', 'message-id', 'recipient']);
    const ttls = await Promise.all(keys.map((key) => redis.client.pttl(key)));
    for (const ttl of ttls) {
      expect(ttl).toBeGreaterThan(7 * DAY - 60_000);
      expect(ttl).toBeLessThanOrEqual(7 * DAY);
    }
  });
});

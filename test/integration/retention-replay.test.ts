// Scenario (a store restored from a replica that was behind): delivered mail is retained per store, within its period and budget, and replayed on request.
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { ReplayResult } from '../../src/admin/replay.js';
import type { TracedMessage } from '../../src/admin/trace.js';
import { createKeys } from '../../src/queue/keys.js';
import type { RetentionSettings } from '../../src/repositories/retained-copies.js';
import { queueIdOf, sendRaw, testMessage } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

const SENDER = 'sender@remote.test';
const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
const CAROL = 'carol@example.com';
const DAVE = 'dave@example.com';
const BUDGET = 8 * 1024;

/** A message whose body does not compress (random bytes, base64): its copy costs about `bytes` x 1.05. */
function incompressible(subject: string, bytes: number): string {
  const payload = randomBytes(bytes).toString('base64').replace(/.{76}/g, '$&\n');
  return `From: ${SENDER}\nSubject: ${subject}\nMessage-ID: <${subject}@remote.test>\n\n${payload}\n`;
}

describe('retention and replay of delivered mail', () => {
  const fixture = withRelay({
    stores: ['store1', 'store2', 'store3'],
    config: {
      routing: { users: { [DAVE]: 'store3' } },
      mailstores: {
        store2: { retention: { budget: `${BUDGET}b` } },
        store3: { retention: { enabled: false } },
      },
    },
  });
  const { store1, store2, store3 } = fixture.stores;

  const send = async (to: string[], message: string) => {
    const replies = await sendRaw(fixture.relay.port, SENDER, to, message);
    return queueIdOf(replies.at(-1)!);
  };
  const retained = (mailstore: string) => fixture.relay.app.retained!.entries(mailstore, 0, Date.now() + 1000);
  const api = async <T>(path: string, body?: object): Promise<{ status: number; body: T }> => {
    const response = await fetch(`http://127.0.0.1:${fixture.relay.app.adminPort}/api/v1${path}`, {
      method: body ? 'POST' : 'GET',
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const replay = (mailstore: string, body: object) => api<ReplayResult>(`/stores/${mailstore}/replay`, body);

  it("keeps a copy of each delivery per store, gzip'd as it was queued, with only the recipients delivered there", async () => {
    const { relay, redis } = fixture;
    const queueId = await send([ALICE, BOB, DAVE], testMessage('tothreestores'));
    await waitFor(
      () => [store1, store2, store3].every((store) => store.messages.length === 1),
      10_000,
      'delivery to three stores',
    );
    await waitFor(async () => (await retained('store2')).length === 1, 5000, 'the copies');
    const [copy1] = await retained('store1');
    const [copy2] = await retained('store2');
    expect(copy1!.delivery).toMatchObject({ queueId, mailstore: 'store1', sender: SENDER, recipients: [ALICE] });
    expect(copy2!.delivery).toMatchObject({ queueId, mailstore: 'store2', recipients: [BOB] });
    expect(copy1!.delivery.messageId).toBe('tothreestores@remote.test');
    // store3 keeps no copies: its retention is off.
    expect(await retained('store3')).toEqual([]);
    const key = createKeys(relay.config.redis.prefix).retainedEntry('store1', copy1!.entryId);
    const stored = await redis.client.getBuffer(key);
    expect(gunzipSync(stored!).toString()).toBe(store1.messages[0]!.body);
    expect(await redis.client.pttl(key)).toBeGreaterThan(47 * 3600_000);
  });

  it('keeps one copy per attempt that delivered: a deferred recipient gets its own copy when it is delivered', async () => {
    store1.replyFor = (recipient, delivery) => (recipient === CAROL && delivery < 3 ? '450 4.2.0 try later' : '250');
    const queueId = await send([ALICE, CAROL], testMessage('caroldeferred'));
    await waitFor(() => store1.delivered(CAROL).length === 1, 10_000, 'carol after her retry');
    store1.replyFor = () => '250';
    await waitFor(
      async () => (await retained('store1')).filter((entry) => entry.delivery.queueId === queueId).length === 2,
      5000,
      'two copies',
    );
    const copies = (await retained('store1')).filter((entry) => entry.delivery.queueId === queueId);
    expect(copies.map((copy) => copy.delivery.recipients)).toEqual([[ALICE], [CAROL]]);
  });

  it('counts in a dry run, then replays only the window, to that store only, with the replay header and the Message-ID kept, paced by the ramp', async () => {
    const { relay } = fixture;
    const before = await send([ALICE], testMessage('beforesnapshot'));
    // The copy's time is taken after the store's reply: wait for the copy, not just the delivery.
    await waitFor(
      async () => (await retained('store1')).some((entry) => entry.delivery.queueId === before),
      10_000,
      'the copy of the mail before',
    );
    const snapshot = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const lost = [await send([ALICE, BOB], testMessage('lostone')), await send([CAROL], testMessage('losttwo'))];
    await waitFor(
      async () => (await retained('store1')).filter((entry) => lost.includes(entry.delivery.queueId)).length === 2,
      10_000,
      'the copies of the lost mail',
    );
    const size = (await retained('store1'))
      .filter((entry) => lost.includes(entry.delivery.queueId))
      .reduce((total, entry) => total + entry.delivery.size, 0);
    const delivered = store1.messages.length;
    const bobs = store2.messages.length;

    const dry = await replay('store1', { since: snapshot, dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, messages: 2, bytes: size, users: 2, replayed: 0 });
    expect((await relay.app.mailstoreAdmin!.status())[0]!.state.kind).toBe('open');

    const done = await replay('store1', {
      since: snapshot,
      reason: 'imap21 restored from a lagging replica',
      by: 'ops',
    });
    expect(done.body).toMatchObject({ dryRun: false, messages: 2, bytes: size, users: 2, replayed: 2, missing: 0 });
    expect(done.body.state).toMatchObject({ kind: 'releasing', by: 'ops' });
    await waitFor(() => store1.messages.length === delivered + 2, 10_000, 'the replayed mail');
    const replayed = store1.messages.slice(delivered);
    for (const [index, queueId] of lost.entries()) {
      const message = replayed.find((candidate) => candidate.body.startsWith(`X-Holdfast-Replay: ${queueId}\r\n`));
      expect(message?.body).toContain(`Message-ID: <lost${['one', 'two'][index]}@remote.test>`);
      expect(message?.body).toContain(`with ESMTP id ${queueId}`); // the body as delivered, after the header
    }
    expect(replayed.flatMap((message) => message.to).sort()).toEqual([ALICE, CAROL]);
    expect(replayed.some((message) => message.body.includes(before))).toBe(false);
    expect(store2.messages).toHaveLength(bobs); // bob's copy belongs to store2: not replayed

    const audit = await relay.app.mailstoreAdmin!.audit(5);
    expect(audit).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'replay', mailstore: 'store1', by: 'ops', count: 2, users: 2 }),
        expect.objectContaining({ action: 'replay', from: 'open', to: 'releasing' }),
      ]),
    );
    expect(relay.events('MessagesReplayed')).toEqual([expect.objectContaining({ mailstore: 'store1', count: 2 })]);
  });

  it('traces the replay on the original message and does not retain the replayed delivery again', async () => {
    const [lost] = (await retained('store1')).filter((entry) => entry.delivery.messageId === 'losttwo@remote.test');
    const { body } = await api<{ messages: TracedMessage[] }>(`/trace?queueId=${lost!.delivery.queueId}`);
    const event = body.messages[0]!.events.find((candidate) => candidate.kind === 'replayed');
    expect(event).toMatchObject({ mailstore: 'store1', recipients: [CAROL], by: 'ops' });
    const replayId = /queued again as (\S+):/.exec(event!.detail ?? '')![1]!;
    const replayEvents = async () =>
      (await api<{ messages: TracedMessage[] }>(`/trace?queueId=${replayId}`)).body.messages[0]?.events ?? [];
    await waitFor(async () => (await replayEvents()).length === 2, 5000, 'the replay delivered');
    const [accepted, delivered] = await replayEvents();
    expect([accepted?.kind, delivered?.kind]).toEqual(['accepted', 'delivered']);
    expect(accepted!.detail).toContain(`a replay of ${lost!.delivery.queueId}`);
    expect(accepted!.remote).toBe('replay');
    expect((await retained('store1')).some((entry) => entry.delivery.queueId === replayId)).toBe(false);
  });

  it('replays only the recipient asked for, and nothing delivered after --until', async () => {
    const copies = (await retained('store1')).filter((entry) => entry.delivery.messageId === 'lostone@remote.test');
    const at = copies[0]!.delivery.deliveredAt;
    const dry = await replay('store1', { since: at - 1, until: at, recipient: 'ALICE@example.com', dryRun: true });
    expect(dry.body).toMatchObject({ messages: 1, users: 1 });
    const none = await replay('store1', { since: at - 1, until: at, recipient: CAROL, dryRun: true });
    expect(none.body).toMatchObject({ messages: 0, bytes: 0, users: 0 });
  });

  it('drops the oldest copies first past its budget, and says from when a replay is incomplete', async () => {
    const { relay } = fixture;
    const sent: string[] = [];
    for (let number = 0; number < 6; number++) {
      sent.push(await send([BOB], incompressible(`big-${number}`, 2500)));
      await waitFor(
        async () => (await retained('store2')).some((entry) => entry.delivery.queueId === sent.at(-1)),
        10_000,
        `copy ${number}`,
      );
    }
    const kept = (await retained('store2')).map((entry) => entry.delivery);
    const status = await relay.app.retained!.status('store2');
    expect(status.bytes).toBeLessThanOrEqual(BUDGET);
    expect(kept.length).toBeGreaterThanOrEqual(2);
    expect(kept.length).toBeLessThan(6);
    expect(kept.map((delivery) => delivery.queueId)).toEqual(sent.slice(-kept.length));
    const dropped = relay.app.metrics.registry.getSingleMetric('holdfast_retention_discarded_total');
    expect(JSON.stringify(await dropped!.get())).toContain('"reason":"budget"');
    // The dropped copies' keys are gone too, not only their index entries.
    const copyKeys = await fixture.redis.client.keys(
      createKeys(relay.config.redis.prefix).retainedEntry('store2', '*'),
    );
    expect(copyKeys).toHaveLength(kept.length);

    const result = await replay('store2', { since: 0, dryRun: true });
    expect(result.body.messages).toBe(kept.length);
    expect(result.body.gapUntil).toBeGreaterThanOrEqual(kept[0]!.deliveredAt - 60_000);
    expect(result.body.gapUntil).toBeLessThan(kept[0]!.deliveredAt + 1);
  });

  it('drops copies past the retention period at the sweep, and nothing younger', async () => {
    const { relay, redis } = fixture;
    const settings: RetentionSettings = { enabled: true, period: 3600_000, budget: 100 * 1024 * 1024 };
    const before = (await retained('store1')).length;
    expect(await relay.app.retained!.sweep('store1', settings, Date.now())).toEqual({ expired: 0, budget: 0 });
    expect(await relay.app.retained!.sweep('store1', settings, Date.now() + 3600_000 + 60_000)).toEqual({
      expired: before,
      budget: 0,
    });
    expect(await relay.app.retained!.status('store1')).toMatchObject({ messages: 0, bytes: 0 });
    expect(await redis.client.keys(createKeys(relay.config.redis.prefix).retainedEntry('store1', '*'))).toEqual([]);
  });

  it('refuses a window that ends before it starts, an unknown store and an unreadable time', async () => {
    expect((await replay('store1', { since: '1h', until: '2h' })).body).toMatchObject({
      code: 'REFUSED',
      message: 'since must be before until',
    });
    expect((await replay('nowhere', { since: '1h' })).status).toBe(404);
    expect((await replay('store1', { since: 'yesterday' })).status).toBe(400);
  });
});

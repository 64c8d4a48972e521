// Scenario: a mailstore refuses connections for a while, then comes back; and endpoint fall-through.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { startRelay, testConfig, type TestRelay } from '../helpers/relay.js';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

describe('a mailstore that refuses connections and comes back', () => {
  const fixture = withRelay({ stores: ['store1'], down: ['store1'] });
  const { store1: store } = fixture.stores;

  it('keeps every message queued while the store is down and delivers all of them when it returns', async () => {
    const { relay } = fixture;
    const queueIds: string[] = [];
    for (let index = 0; index < 10; index++) {
      queueIds.push(queueIdOf(await send(relay.port, 'sender@remote.test', ['alice@example.com'], `outage ${index}`)));
    }
    // Attempts fail until the store trips (see trip.test.ts); then only probes are made.
    await waitFor(() => relay.events('MailstoreState').some((record) => record.action === 'trip'), 15_000, 'the trip');
    expect(store.messages).toHaveLength(0);
    expect(relay.events('Bounce')).toHaveLength(0);
    expect(relay.events('Expiration')).toHaveLength(0);

    await store.start(fixture.ports.store1);
    await waitFor(() => store.messages.length >= 10, 30_000, 'all delivered');
    const deliveredIds = store.messages.map((message) => /id (\S+)/.exec(message.body)?.[1]).sort();
    expect(deliveredIds).toEqual([...queueIds].sort());
    expect(relay.events('Bounce')).toHaveLength(0);
  });
});

describe('a mailstore with two endpoints whose primary does not answer', () => {
  let deadPrimary: number;
  // Registered before the fixture's, so it runs first: the config below names this port.
  beforeAll(async () => {
    deadPrimary = await freePort();
  });
  const fixture = withRelay({
    stores: ['store1'],
    config: ({ store1 }) => ({
      mailstores: { store1: { endpoints: [`127.0.0.1:${deadPrimary}`, `127.0.0.1:${store1}`] } },
    }),
  });
  const { store1: secondary } = fixture.stores;

  it('falls through to the next endpoint within the same attempt', async () => {
    const { relay } = fixture;
    await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'fall through');
    await waitFor(() => secondary.messages.length === 1);
    expect(relay.events('TransientFailure')).toHaveLength(0);
    expect(relay.events('Delivery')[0]).toMatchObject({ remote: `127.0.0.1:${secondary.port}`, attempt: 1 });
  });
});

describe('a mailstore that accepts connections but never greets', () => {
  let redis: TestRedis;
  let relay: TestRelay;
  let silent: Server;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    silent = createServer((socket) => sockets.push(socket)); // accepts, then says nothing
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const timeouts = { connect: '1s', greeting: '1s', socket: '2s' };
    relay = await startRelay(testConfig(redis.url, { store1: port }, { mailstores: { store1: { timeouts } } }));
  });

  afterAll(async () => {
    await relay?.stop();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
    await redis?.cleanup();
  });

  it('gives up on the greeting after its timeout and defers the message without bouncing it', async () => {
    await send(relay.port, 'sender@remote.test', ['alice@example.com'], 'silent store');
    await waitFor(() => relay.events('TransientFailure').length >= 1, 10_000, 'a deferral');
    const attempt = relay.events('Attempt')[0]!;
    expect(attempt.reply).toMatch(/greeting|timeout/i);
    expect(attempt.elapsedMs).toBeLessThan(5000);
    expect(relay.events('Bounce')).toHaveLength(0);
  });
});

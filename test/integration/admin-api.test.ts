// Scenario: an operator drives Holdfast over the admin HTTP API: token, stores, messages, routes, health, errors.
import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { queueIdOf, send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

const TOKEN = 'a-long-enough-test-token-0123456789';

describe('the admin API', () => {
  const fixture = withRelay({ config: { admin: { port: 0, token: TOKEN } } });
  const { store2 } = fixture.stores;

  /** A request to the API; the token unless told otherwise. */
  async function api(method: string, path: string, body?: unknown, token: string | null = TOKEN) {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = typeof body === 'string' ? 'text/csv' : 'application/json';
    const response = await fetch(`http://127.0.0.1:${fixture.relay.app.adminPort}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it('answers health without a token, and everything else only with the right one', async () => {
    const { relay } = fixture;
    expect(await api('GET', '/health/live', undefined, null)).toMatchObject({ status: 200, body: { live: true } });
    expect(await api('GET', '/health/ready', undefined, null)).toMatchObject({
      status: 200,
      body: { ready: true, redis: 'reachable', durability: 'strict', embeddedRedis: false },
    });
    expect(await api('GET', '/stores', undefined, null)).toMatchObject({
      status: 401,
      body: { code: 'UNAUTHORIZED' },
    });
    expect((await api('GET', '/stores', undefined, 'wrong-token')).status).toBe(401);
    expect((await api('GET', '/stores')).status).toBe(200);
    // No token is ever logged, right or wrong.
    expect(JSON.stringify(relay.logs)).not.toContain(TOKEN);
    expect(JSON.stringify(relay.logs)).not.toContain('wrong-token');
    expect(relay.events('AdminAuthFailed').length).toBeGreaterThanOrEqual(2);
  });

  it('holds and releases a store, and says why it refuses', async () => {
    const { relay } = fixture;
    const held = await api('POST', '/stores/store2/hold', { reason: 'disk errors', by: 'alice-ops' });
    expect(held).toMatchObject({
      status: 200,
      body: { state: { kind: 'held', reason: 'disk errors', by: 'alice-ops' } },
    });
    const queueId = queueIdOf(await send(relay.port, 'sender@remote.test', ['bob@example.com'], 'held mail'));

    const stores = await api('GET', '/stores');
    const store2Status = (stores.body.stores as Array<Record<string, unknown>>).find((s) => s.mailstore === 'store2');
    expect(store2Status).toMatchObject({ state: { kind: 'held' }, backlog: { messages: 1 } });
    expect(await api('GET', '/stores/store2')).toMatchObject({ status: 200, body: { mailstore: 'store2' } });

    expect(await api('POST', '/stores/store2/hold', {})).toMatchObject({
      status: 400,
      body: { code: 'INVALID_REQUEST', message: expect.stringContaining('reason') as string },
    });
    expect(await api('POST', '/stores/nope/hold', { reason: 'x' })).toMatchObject({
      status: 404,
      body: { code: 'NOT_FOUND' },
    });
    expect(await api('POST', '/stores/store1/release', {})).toMatchObject({ status: 409, body: { code: 'REFUSED' } });
    expect(await api('POST', '/stores/store2/hold', { reason: 'x', until: 'soon' })).toMatchObject({
      status: 400,
      body: { message: 'until: not a time or a duration: soon' },
    });

    const list = await api('GET', '/messages?store=store2&limit=10');
    expect(list).toMatchObject({ status: 200, body: { total: 1, offset: 0, limit: 10 } });
    const detail = await api('GET', `/messages/${queueId}`);
    expect(detail).toMatchObject({
      status: 200,
      body: { queueId, sender: 'sender@remote.test', jobs: [{ mailstore: 'store2', state: 'waiting' }] },
    });
    expect(detail.body.headers).toContain('Subject: held mail');
    expect((detail.body.events as Array<{ kind: string }>).map((event) => event.kind)).toEqual(['accepted']);
    expect((await api('GET', '/messages/NOSUCHMESSAGE')).status).toBe(404);

    const dryRun = await api('POST', '/messages/actions', {
      action: 'delete',
      filter: { store: 'store2' },
      dryRun: true,
    });
    expect(dryRun).toMatchObject({ status: 200, body: { action: 'delete', matched: 1, done: 0, dryRun: true } });
    expect(await api('POST', '/messages/actions', { action: 'hold', filter: {} })).toMatchObject({ status: 409 });

    expect(await api('POST', '/stores/store2/release', { reason: 'fixed', rate: 50 })).toMatchObject({
      status: 200,
      body: { state: { kind: 'releasing', rate: 50 } },
    });
    await waitFor(() => store2.delivered('bob@example.com').length === 1);
    const audit = await api('GET', '/audit?limit=5');
    expect((audit.body.entries as Array<{ action: string }>).map((entry) => entry.action)).toContain('hold');
  });

  it('looks up, sets, removes and imports routing entries', async () => {
    expect(await api('PUT', '/routes/dave%40example.com', { mailstore: 'store2' })).toMatchObject({
      status: 200,
      body: { address: 'dave@example.com', table: 'store2', effective: { kind: 'mailstore', mailstore: 'store2' } },
    });
    expect(await api('DELETE', '/routes/dave%40example.com')).toMatchObject({ body: { table: null } });
    expect(await api('PUT', '/routes/dave%40example.com', { mailstore: 'nope' })).toMatchObject({ status: 409 });
    expect(await api('POST', '/routes/import', 'erin@example.com,store1\nfrank@example.com,store2\n')).toMatchObject({
      status: 200,
      body: { loaded: 2 },
    });
    expect(await api('POST', '/routes/import', 'broken line\n')).toMatchObject({
      status: 409,
      body: { code: 'REFUSED' },
    });
    expect(await api('GET', '/nothing-here')).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
  });

  it('listens on loopback only: another address of this machine is refused', async () => {
    const { relay } = fixture;
    expect(relay.app.adminAddress).toBe('127.0.0.1');
    const outside = Object.values(networkInterfaces())
      .flat()
      .find((each) => each && each.family === 'IPv4' && !each.internal)?.address;
    // A machine with no other address has nothing to be reached from.
    if (outside === undefined) return;
    const refused = await fetch(`http://${outside}:${relay.app.adminPort}/api/v1/health/live`).then(
      () => false,
      () => true,
    );
    expect(refused).toBe(true);
  });

  it('makes a client that keeps failing the token wait', async () => {
    for (let attempt = 0; attempt < 10; attempt++) await api('GET', '/stores', undefined, 'guess');
    expect(await api('GET', '/stores')).toMatchObject({ status: 429, body: { code: 'TOO_MANY_ATTEMPTS' } });
  });
});

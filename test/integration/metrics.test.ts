// Scenario: Prometheus scrapes /metrics and sees accepted mail, deliveries, queue depth, store states and Redis.
import { describe, expect, it } from 'vitest';
import { send, sendRaw } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { withRelay } from '../helpers/with-relay.js';

const TOKEN = 'metrics-test-token-0123456789';

/** The value of one sample of the exposition text, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (wanted.every((label) => line.includes(label))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('the /metrics endpoint', () => {
  const fixture = withRelay({
    stores: ['store1', 'store2'],
    down: ['store2'], // store2 is down
    config: {
      admin: { port: 0, token: TOKEN },
      mailstores: { store2: { trip: { failures: 1, probeInterval: '1m' } } },
    },
  });
  const { store1 } = fixture.stores;

  const scrape = async (token: string | null = TOKEN) => {
    const response = await fetch(`http://127.0.0.1:${fixture.relay.app.adminPort}/metrics`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    return { status: response.status, text: await response.text() };
  };

  it('needs the admin token', async () => {
    expect((await scrape(null)).status).toBe(401);
  });

  it('counts replies, deliveries and attempts, and shows queue depth, store states, trips and Redis', async () => {
    const { relay } = fixture;
    for (let index = 0; index < 3; index++) await send(relay.port, 'a@remote.test', ['alice@example.com'], `m${index}`);
    await send(relay.port, 'a@remote.test', ['bob@example.com'], 'for the dead store');
    await sendRaw(relay.port, 'a@remote.test', ['someone@elsewhere.test'], 'x');
    await waitFor(() => store1.messages.length === 3);
    await waitFor(() => relay.events('MailstoreState').some((record) => record.action === 'trip'));

    // The store saw the mail before its 250 reached the relay: wait until the relay has recorded it all.
    let scraped = await scrape();
    await waitFor(
      async () => {
        scraped = await scrape();
        const queue = (state: string) =>
          sample(scraped.text, 'holdfast_queue_messages', { mailstore: 'store2', state }) ?? 0;
        return (
          sample(scraped.text, 'holdfast_backlog_messages', { mailstore: 'store1' }) === 0 &&
          sample(scraped.text, 'holdfast_delivery_attempt_duration_seconds_count', { mailstore: 'store1' }) === 3 &&
          queue('waiting') + queue('delayed') === 1
        );
      },
      10_000,
      'the metrics to settle',
    );
    const { status, text } = scraped;
    expect(status).toBe(200);
    expect(sample(text, 'holdfast_smtp_replies_total', { stage: 'data', code: '250' })).toBe(4);
    expect(sample(text, 'holdfast_smtp_replies_total', { stage: 'rcpt', code: '550' })).toBe(1);
    expect(sample(text, 'holdfast_delivery_recipients_total', { mailstore: 'store1', outcome: 'delivered' })).toBe(3);
    expect(sample(text, 'holdfast_delivery_recipients_total', { mailstore: 'store2', outcome: 'unreachable' })).toBe(1);
    expect(sample(text, 'holdfast_delivery_attempt_duration_seconds_count', { mailstore: 'store1' })).toBe(3);
    expect(sample(text, 'holdfast_mailstore_state', { mailstore: 'store2', state: 'tripped' })).toBe(1);
    expect(sample(text, 'holdfast_mailstore_state', { mailstore: 'store1', state: 'open' })).toBe(1);
    expect(sample(text, 'holdfast_mailstore_automatic_stops_total', { mailstore: 'store2', kind: 'trip' })).toBe(1);
    expect(sample(text, 'holdfast_backlog_messages', { mailstore: 'store2' })).toBe(1);
    expect(sample(text, 'holdfast_backlog_messages', { mailstore: 'store1' })).toBe(0);
    expect(sample(text, 'holdfast_oldest_message_age_seconds', { mailstore: 'store2' })).toBeGreaterThanOrEqual(0);
    const queued = ['waiting', 'delayed'].map(
      (state) => sample(text, 'holdfast_queue_messages', { mailstore: 'store2', state }) ?? 0,
    );
    expect(queued[0]! + queued[1]!).toBe(1); // deferred after its failed attempt
    expect(sample(text, 'holdfast_redis_durable', { mode: 'strict' })).toBe(1);
    expect(sample(text, 'holdfast_redis_memory_bytes', { kind: 'used' })).toBeGreaterThan(0);
  });
});

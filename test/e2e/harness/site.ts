// The test site of the outage suite: its users and stores, and the Holdfast config its operator would write.
import { freePort } from '../../helpers/ports.js';

/** Each user's store. Every store knows every user, so mail sent to the wrong store lands there (misrouted). */
export const USERS: Readonly<Record<string, string>> = {
  'alice@example.com': 'store1',
  'bob@example.com': 'store2',
  'carol@example.com': 'store3',
  'amy@example.com': 'store1',
  'ben@example.com': 'store2',
  'cora@example.com': 'store3',
};
export const ADDRESSES = Object.keys(USERS);
export const STORES = ['store1', 'store2', 'store3'] as const;
export type StoreId = (typeof STORES)[number];
export const STORE_COUNT = STORES.length;

/** Per store: attempts at once. The at-least-once bound of a crash follows from it (see docs/reliability.md). */
export const STORE_CONCURRENCY = 4;

/**
 * One recipient, each user in turn; every fifth message also goes to the next user (on another
 * store): one message, two delivery jobs.
 */
export function recipientsFor(index: number): string[] {
  const first = ADDRESSES[index % ADDRESSES.length]!;
  if (index % 5 !== 4) return [first];
  return [first, ADDRESSES[(index + 1) % ADDRESSES.length]!];
}

/**
 * The node's config file, as an operator would write it for a small, fast-reacting test site:
 * retries every second, a trip after 5 failed attempts with probes every 1-2 s, a quick ramp, the 5xx
 * guard at its defaults; with `shortLocks`, a crashed node's jobs are taken over within 4 + 2 s.
 */
export async function nodeConfig(
  index: number,
  /** The config's `redis` connection: `{ url }` of one Redis, or `{ cluster: { nodes } }`. */
  redis: Record<string, unknown>,
  storePorts: Record<StoreId, number>,
  smarthostPort: number,
  shortLocks: boolean,
): Promise<Record<string, unknown>> {
  const mailstores = Object.fromEntries(
    STORES.map((store) => [
      store,
      {
        endpoints: [`127.0.0.1:${storePorts[store]}`],
        concurrency: STORE_CONCURRENCY,
        retry: '1s',
        timeouts: { connect: '2s', greeting: '5s', socket: '15s' },
        trip: { failures: 5, probeInterval: '1s', maxProbeInterval: '2s' },
        ramp: { startRate: 50, startConcurrency: STORE_CONCURRENCY, step: '2s' },
      },
    ]),
  );
  return {
    listener: { host: '127.0.0.1', port: await freePort(), hostname: `mx${index}.test` },
    // Several redis-servers fsyncing every write share the test machine's cores on a Cluster: a
    // commit may take longer there than the single Redis's 2 s.
    limits: { timeouts: { enqueue: redis.cluster ? '10s' : '2s' } },
    domains: { 'example.com': { mailstore: 'store1', rejectUnknownUsers: true } },
    routing: { users: USERS },
    mailstores,
    redis: { ...redis, prefix: 'hf' },
    bounces: { smarthost: `127.0.0.1:${smarthostPort}` },
    shutdown: { grace: '5s' },
    workers: shortLocks
      ? { lockDuration: '4s', stalledInterval: '2s', watchdogInterval: '2s' }
      : { watchdogInterval: '2s' },
    admin: { host: '127.0.0.1', port: await freePort() },
    log: { level: 'info' },
  };
}

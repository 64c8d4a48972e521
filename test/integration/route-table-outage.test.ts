// Scenario: the routing table's Redis stops answering (a failover of its shard) while mail arrives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { RouteTable } from '../../src/routing/route-table.js';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { Redis } from 'ioredis';
import { waitFor } from '../helpers/wait.js';

describe('the routing table while its Redis does not answer', () => {
  let redis: TestRedis;
  let connection: Redis;

  beforeAll(async () => {
    redis = await startTestRedis();
    connection = new Redis(redis.url, { maxRetriesPerRequest: 1, commandTimeout: 300 });
  });

  afterAll(async () => {
    redis.resume();
    connection.disconnect();
    await redis.cleanup();
  });

  it('answers from the routes this node read last, fails for an address it has not read, and reads again after a moment', async () => {
    const keys = createKeys('hfroutes');
    const table = new RouteTable(connection, keys, 300, 200);
    await table.set('alice@example.com', 'store2');
    expect(await table.lookup('Alice@Example.com')).toBe('store2');
    expect(await table.lookup('bob@example.com')).toBeNull();

    redis.pause();
    try {
      expect(await table.lookup('alice@example.com')).toBe('store2');
      expect(await table.lookup('bob@example.com')).toBeNull();
      await expect(table.lookup('carol@example.com')).rejects.toThrow();
    } finally {
      redis.resume();
    }
    await table.set('alice@example.com', 'store3');
    // For a moment after the failure, the remembered route; then the table again.
    expect(await table.lookup('alice@example.com')).toBe('store2');
    await waitFor(async () => (await table.lookup('alice@example.com')) === 'store3', 2000, 'the table read again');
  });
});

// Scenario: the routing table's Redis stops answering (a failover of its shard) while mail arrives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { RouteTable } from '../../src/routing/route-table.js';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { Redis } from 'ioredis';

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

  it('answers from the routes this node read last, and fails for an address it has not read', async () => {
    const keys = createKeys('hfroutes');
    const table = new RouteTable(connection, keys, 300);
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
    expect(await table.lookup('alice@example.com')).toBe('store3');
  });
});

// Scenario: intake's connection is ready before the SMTP listener opens (it queues nothing while connecting).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, whenReady } from '../../src/redis/connections.js';
import { freePort } from '../helpers/ports.js';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';

describe('an intake connection', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis?.cleanup();
  });

  it('refuses commands while it connects, and takes them once whenReady resolved', async () => {
    const intake = createRedis({ url: redis.url }, 'intake', 2000);
    try {
      await expect(intake.ping()).rejects.toThrow(/enableOfflineQueue|writeable/);
      await whenReady(intake, 2000);
      expect(intake.status).toBe('ready');
      expect(await intake.ping()).toBe('PONG');
    } finally {
      intake.disconnect();
    }
  });

  it('gives up waiting after the timeout when Redis does not answer', async () => {
    const intake = createRedis({ url: `redis://127.0.0.1:${await freePort()}` }, 'intake', 300);
    try {
      await whenReady(intake, 300);
      expect(intake.status).not.toBe('ready');
    } finally {
      intake.disconnect();
    }
  });
});

// Holdfast's Lua scripts on a real Redis: sent once per connection, then run by SHA, also in a MULTI and auto-pipelined.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.js';
import { LuaScript } from '../../src/redis/scripts.js';
import { createRedis } from '../../src/redis/connections.js';

const ECHO = new LuaScript<[string, string]>('test_echo', `return {KEYS[1], ARGV[1]}`);
const COUNT_KEYS = new LuaScript<number>('test_count_keys', `return #KEYS`);

describe('Lua scripts', () => {
  let redis: TestRedis;
  const connections: Redis[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
  });

  afterAll(async () => {
    for (const connection of connections) connection.disconnect();
    await redis?.cleanup();
  });

  const evalCalls = async (): Promise<{ eval: number; evalsha: number }> => {
    const info = await redis.client.info('commandstats');
    const calls = (command: string) => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
    return { eval: calls('eval'), evalsha: calls('evalsha') };
  };

  it('sends the source once on a connection and runs the script by its SHA after that', async () => {
    await redis.client.config('RESETSTAT');
    for (let call = 0; call < 5; call++) {
      expect(await ECHO.run(redis.client, ['key'], ['value'])).toEqual(['key', 'value']);
    }
    expect(await evalCalls()).toEqual({ eval: 1, evalsha: 4 });
  });

  it('takes any number of keys', async () => {
    expect(await COUNT_KEYS.run(redis.client, [], [])).toBe(0);
    expect(await COUNT_KEYS.run(redis.client, ['a', 'b', 'c'], ['x'])).toBe(3);
  });

  it('runs inside a MULTI made before the script was first used, with the other commands', async () => {
    const multi = redis.client.multi().set('plain', '1');
    COUNT_KEYS.queue(multi, redis.client, ['a', 'b'], []);
    const results = await multi.exec();
    expect(results).toEqual([
      [null, 'OK'],
      [null, 2],
    ]);
  });

  it('still runs after Redis forgot its scripts (SCRIPT FLUSH)', async () => {
    await ECHO.run(redis.client, ['k'], ['v']);
    await redis.client.script('FLUSH');
    expect(await ECHO.run(redis.client, ['k'], ['again'])).toEqual(['k', 'again']);
  });

  it('runs on an auto-pipelined control connection: createRedis defines every script when it makes one', async () => {
    const connection = createRedis({ url: redis.url }, 'control', 5000);
    connections.push(connection);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) => ECHO.run(connection, [`key${index}`], [`value${index}`])),
    );
    expect(results[19]).toEqual(['key19', 'value19']);
    expect(connection.autoPipelineQueueSize).toBe(0);
  });
});

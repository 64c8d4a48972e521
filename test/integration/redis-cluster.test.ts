// Scenario: a Redis Cluster node given as a single Redis (`url`) instead of as `redis.cluster`.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, portFree } from '../helpers/ports.js';
import { startRelay, testConfig } from '../helpers/relay.js';
import { waitFor } from '../helpers/wait.js';

describe('starting on a Redis Cluster node', () => {
  let dir: string;
  let port: number;
  let server: ChildProcess | undefined;
  let client: Redis;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'holdfast-cluster-'));
    // A cluster node also listens on port + 10000 (its bus): both must be free.
    do port = await freePort();
    while (!(await portFree(port + 10_000)));
    // Durable settings, so that only the cluster mode is wrong.
    server = spawn(
      'redis-server',
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''],
        ...['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf')],
        ...['--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction'],
      ],
      { stdio: 'ignore' },
    );
    client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    client.on('error', () => undefined);
    await waitFor(async () => (await client.ping().catch(() => '')) === 'PONG', 15_000, 'redis-server');
  });

  afterAll(async () => {
    client?.disconnect();
    if (server && server.exitCode === null) {
      const exited = once(server, 'exit');
      process.kill(server.pid!, 'SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start when a Cluster node is given as url, saying to give it as redis.cluster', async () => {
    await expect(startRelay(testConfig(`redis://127.0.0.1:${port}`, { store1: 1 }))).rejects.toMatchObject({
      code: 'REDIS_CLUSTER_NOT_CONFIGURED',
    });
  });
});

// Starts a real redis-server for a test: its own free port and data dir, removed afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { EmbeddedRedis } from '../../src/redis/embedded.js';
import { freePort } from './ports.js';

export interface TestRedis {
  url: string;
  port: number;
  dir: string;
  /** A plain client for assertions. */
  client: Redis;
  stop(): Promise<void>;
  kill(): Promise<void>;
  /** SIGSTOP: Redis keeps its connections but answers nothing (a hung or very slow server). */
  pause(): void;
  resume(): void;
  /** Starts redis-server again on the same port and data dir (it replays its AOF). */
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function startTestRedis(options: { maxmemory?: number } = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-redis-'));
  let port = 0;
  const make = () => new EmbeddedRedis({ dir, port, supervise: false, maxmemory: options.maxmemory });
  let server: EmbeddedRedis;
  // The free port may be taken by another test file before redis-server binds it: try another.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    server = make();
    try {
      await server.start();
      break;
    } catch (error) {
      await server.stop().catch(() => undefined);
      if (attempt === 3) throw error;
    }
  }
  const client = new Redis(server.location.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  client.on('error', () => undefined);
  return {
    url: server.location.url,
    port,
    dir,
    client,
    stop: () => server.stop(),
    kill: () => server.kill(),
    pause: () => process.kill(server.pid!, 'SIGSTOP'),
    resume: () => process.kill(server.pid!, 'SIGCONT'),
    async restart() {
      server = make();
      await server.start();
    },
    async cleanup() {
      client.disconnect();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every key whose name starts with the prefix (small test databases only). */
export async function keysWithPrefix(client: Redis, pattern: string): Promise<string[]> {
  return client.keys(pattern);
}

// Runs and supervises a local redis-server child with durable settings (the embedded default).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import { Deadline } from '../clock.js';

export interface EmbeddedRedisOptions {
  dir: string;
  binary?: string;
  /** TCP port on 127.0.0.1; when absent Redis listens on a unix socket only. */
  port?: number;
  maxmemory?: number;
  logger?: Logger;
  /** Restart the child when it dies unexpectedly (default true). */
  supervise?: boolean;
}

/** Where the managed redis-server listens: a unix socket in its data directory. */
export function embeddedSocketPath(dir: string): string {
  return join(dir, 'redis.sock');
}

export interface RedisLocation {
  url: string;
}

/** The durable settings Holdfast's contract needs: AOF with an fsync per write, and no eviction. */
/**
 * BullMQ's job hash holds values of 100-200 bytes (its data, its options): above Redis's default
 * listpack limit of 64, each job became a hash table (823 bytes) instead of a listpack (about 520).
 * The old name, which Redis 7 still takes, so that Redis 6 starts too.
 */
export const COMPACT_REDIS_ARGUMENTS = ['--hash-max-ziplist-value', '256'];

export const DURABLE_REDIS_ARGUMENTS = [
  '--appendonly',
  'yes',
  '--appendfsync',
  'always',
  '--maxmemory-policy',
  'noeviction',
  '--save',
  '',
  '--protected-mode',
  'yes',
];

export class EmbeddedRedis {
  private child: ChildProcess | undefined;
  private stopping = false;
  readonly location: RedisLocation;
  readonly socketPath: string;

  constructor(private readonly options: EmbeddedRedisOptions) {
    this.socketPath = embeddedSocketPath(options.dir);
    this.location = {
      url: options.port !== undefined ? `redis://127.0.0.1:${options.port}` : `unix://${this.socketPath}`,
    };
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private get pidFile(): string {
    return join(this.options.dir, 'redis.pid');
  }

  async start(): Promise<void> {
    mkdirSync(this.options.dir, { recursive: true });
    await this.stopLeftover();
    this.stopping = false;
    process.on('exit', this.stopOnExit);
    this.spawnChild();
    await this.waitUntilReady(15_000);
    this.options.logger?.info(
      { event: EVENTS.redisEmbeddedStarted, pid: this.child?.pid, ...this.location },
      'embedded redis started',
    );
  }

  /** Sends SIGTERM (Redis flushes the AOF and exits) and waits for the child to end. */
  async stop(): Promise<void> {
    this.stopping = true;
    process.off('exit', this.stopOnExit);
    await this.signalAndWait('SIGTERM', 20_000);
  }

  /** If Holdfast exits without stop() (an uncaught error), its Redis must not live on alone. */
  private readonly stopOnExit = () => {
    this.stopping = true;
    this.child?.kill('SIGTERM');
  };

  /**
   * A redis-server left running on this data directory (Holdfast was SIGKILLed) would share the
   * append-only file with a new one. Stop it first; with appendfsync always it has lost nothing.
   */
  private async stopLeftover(): Promise<void> {
    let pid: number;
    try {
      pid = Number(readFileSync(this.pidFile, 'utf8').trim());
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server')) return;
    } catch {
      return; // no pid file, or no such process
    }
    this.options.logger?.warn(
      { event: EVENTS.redisEmbeddedExited, pid },
      'stopping a redis-server left on this data directory',
    );
    process.kill(pid, 'SIGTERM');
    const deadline = new Deadline(20_000);
    while (!deadline.passed && existsSync(`/proc/${pid}`)) await sleep(50);
  }

  /** For crash tests: SIGKILL, no chance to flush anything that was not already fsynced. */
  async kill(): Promise<void> {
    this.stopping = true;
    process.off('exit', this.stopOnExit);
    await this.signalAndWait('SIGKILL', 5_000);
  }

  private async signalAndWait(signal: NodeJS.Signals, timeout: number): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const ended = await Promise.race([exited.then(() => true), sleep(timeout).then(() => false)]);
    if (!ended) {
      child.kill('SIGKILL');
      await exited;
    }
  }

  private spawnChild(): void {
    const { dir, port, maxmemory } = this.options;
    const args = [
      '--dir',
      dir,
      '--port',
      String(port ?? 0),
      '--bind',
      '127.0.0.1',
      ...(port === undefined ? ['--unixsocket', this.socketPath, '--unixsocketperm', '700'] : []),
      ...DURABLE_REDIS_ARGUMENTS,
      ...COMPACT_REDIS_ARGUMENTS,
      '--maxmemory',
      String(maxmemory ?? 0),
      '--logfile',
      join(dir, 'redis.log'),
      '--daemonize',
      'no',
      '--pidfile',
      this.pidFile,
    ];
    // Its own process group: a Ctrl-C in the terminal reaches Holdfast only, which stops Redis
    // last, after the workers; Redis killed first would be restarted and the stop would stall.
    const child = spawn(this.options.binary ?? 'redis-server', args, { stdio: 'ignore', detached: true });
    this.child = child;
    child.on('error', (error) => {
      this.options.logger?.error({ event: EVENTS.redisEmbeddedExited, err: error }, 'cannot run redis-server');
    });
    child.on('exit', (code, signal) => {
      if (this.stopping || this.child !== child) return;
      this.options.logger?.error(
        { event: EVENTS.redisEmbeddedExited, code, signal },
        'embedded redis exited; restarting',
      );
      if (this.options.supervise !== false) {
        setTimeout(() => {
          if (!this.stopping) this.spawnChild();
        }, 1000).unref();
      }
    });
  }

  private async waitUntilReady(timeout: number): Promise<void> {
    const deadline = new Deadline(timeout);
    let lastError: unknown;
    while (!deadline.passed) {
      if (this.child && (this.child.exitCode !== null || this.child.signalCode !== null)) {
        throw new Error(`redis-server exited during start (see ${join(this.options.dir, 'redis.log')})`);
      }
      const probe = new Redis(this.location.url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 500 });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        // Redis answers LOADING while it replays the AOF; ready means PING works.
        if ((await probe.ping()) === 'PONG') return;
      } catch (error) {
        lastError = error;
      } finally {
        probe.disconnect();
      }
      await sleep(50);
    }
    throw new Error(`redis-server did not become ready in ${timeout} ms: ${String(lastError)}`);
  }
}

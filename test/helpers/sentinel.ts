// Starts a real Redis Sentinel set for a test on loopback: a primary, its replicas and three sentinels.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

export const SENTINEL_NAME = 'hfprimary';

/** One redis-server of the set, known by its port. */
export interface RedisNode {
  port: number;
  dir: string;
  readonly pid: number | undefined;
  /** Whether its process runs. */
  readonly running: boolean;
}

export interface TestSentinelSet {
  /** What Holdfast's `redis.sentinels` takes. */
  sentinels: Array<{ host: string; port: number }>;
  name: string;
  nodes: RedisNode[];
  /** The node the sentinels name as primary now. */
  primary(): Promise<RedisNode>;
  /** A plain client on a node, for assertions (closed by cleanup). */
  client(node: RedisNode): Redis;
  /** SIGKILL: nothing is flushed that was not already fsynced. */
  kill(node: RedisNode): Promise<void>;
  /** SIGSTOP / SIGCONT: the node keeps its sockets and answers nothing. */
  pause(node: RedisNode): void;
  resume(node: RedisNode): void;
  /** Starts a stopped node again on its port, data dir and config file (which the sentinels may have rewritten). */
  restart(node: RedisNode): Promise<void>;
  /** Resolves once the sentinels name another node than `old` as primary, and every sentinel agrees. */
  waitForFailover(old: RedisNode, timeoutMs?: number): Promise<RedisNode>;
  /** A planned switchover: the sentinels promote a replica while the primary runs on, then demote the old primary. */
  switchover(): Promise<void>;
  /**
   * Resolves once every other node is a replica, link up, of the primary the sentinels name (on a
   * loaded machine they may have failed over again meanwhile: whichever node is primary then). The
   * sentinels learn it later (they read a replica's INFO every 10 s): a second failover before then
   * can go wrong, so a test that needs two gets a fresh set for each.
   */
  waitUntilReplicated(timeoutMs?: number): Promise<void>;
  /** Every process this set started stops (SIGKILL by PID), and the temp dir is removed. */
  cleanup(): Promise<void>;
  /** The last lines of every log, for failure messages. */
  logs(): string;
}

/** The durable settings Holdfast demands, on every node: a replica becomes the primary one day. */
const DURABLE = ['appendonly yes', 'appendfsync always', 'maxmemory-policy noeviction', 'save ""'];

/** A replica that (re)joins is synced at once instead of after the default 5 s wait for more replicas. */
const REPLICATION = ['repl-diskless-sync-delay 0'];

/** Short timings so that a failover takes a few seconds instead of a minute. */
const DOWN_AFTER_MS = 1000;
const FAILOVER_TIMEOUT_MS = 3000;

class Process {
  child: ChildProcess | undefined;

  constructor(
    private readonly command: string,
    private readonly args: string[],
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    this.child = spawn(this.command, this.args, { stdio: 'ignore' });
    this.child.on('error', () => undefined);
  }

  async stop(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid!, signal);
    await exited;
  }
}

class Node implements RedisNode {
  readonly process: Process;
  readonly configFile: string;

  constructor(
    readonly port: number,
    readonly dir: string,
    primaryPort: number | undefined,
  ) {
    mkdirSync(dir, { recursive: true });
    this.configFile = join(dir, 'redis.conf');
    writeFileSync(
      this.configFile,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `logfile ${join(dir, 'redis.log')}`,
        'daemonize no',
        ...DURABLE,
        ...REPLICATION,
        ...(primaryPort === undefined ? [] : [`replicaof 127.0.0.1 ${primaryPort}`]),
        '',
      ].join('\n'),
    );
    this.process = new Process('redis-server', [this.configFile]);
  }

  get pid(): number | undefined {
    return this.process.child?.pid;
  }

  get running(): boolean {
    return this.process.running;
  }
}

/** Debian ships `redis-sentinel` (the same binary in sentinel mode); `redis-server --sentinel` is the same thing. */
function sentinelCommand(configFile: string): [string, string[]] {
  const found = spawnSync('sh', ['-c', 'command -v redis-sentinel'], { encoding: 'utf8' });
  return found.status === 0 ? ['redis-sentinel', [configFile]] : ['redis-server', [configFile, '--sentinel']];
}

/** Asks a server once on a connection of its own; undefined when it does not answer. */
async function ask<T>(port: number, question: (client: Redis) => Promise<T>): Promise<T | undefined> {
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 500 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return await question(probe);
  } catch {
    return undefined;
  } finally {
    probe.disconnect();
  }
}

const ping = async (port: number) => (await ask(port, (client) => client.ping())) === 'PONG';
const replicationInfo = async (port: number) => (await ask(port, (client) => client.info('replication'))) ?? '';

export async function startSentinelSet(options: { replicas?: number } = {}): Promise<TestSentinelSet> {
  const root = mkdtempSync(join(tmpdir(), 'holdfast-sentinel-'));
  const nodes: Node[] = [];
  const sentinels: Process[] = [];
  const clients = new Map<number, Redis>();
  const sentinelPorts: number[] = [];

  const stopAll = async () => {
    for (const client of clients.values()) client.disconnect();
    await Promise.all([...sentinels, ...nodes.map((node) => node.process)].map((child) => child.stop('SIGKILL')));
  };

  const sentinelClient = (port: number) => {
    const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    client.on('error', () => undefined);
    return client;
  };

  const askSentinels = async <T>(question: (client: Redis) => Promise<T>): Promise<T[]> => {
    const asked = sentinelPorts.map(sentinelClient);
    try {
      return await Promise.all(asked.map(question));
    } finally {
      for (const client of asked) client.disconnect();
    }
  };

  const primaryPorts = () =>
    askSentinels(async (client) => {
      const reply = (await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_NAME)) as string[] | null;
      return Number(reply?.[1]);
    });

  const nodeOn = (port: number) => {
    const node = nodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`no node of this set listens on ${port}`);
    return node;
  };

  /** The replica has finished its sync and the primary counts it (WAIT will). */
  const isReplicating = async (node: RedisNode, primary: RedisNode) => {
    const [replica, master] = await Promise.all([replicationInfo(node.port), replicationInfo(primary.port)]);
    return (
      replica.includes(`master_port:${primary.port}`) &&
      replica.includes('master_link_status:up') &&
      new RegExp(`slave\\d+:ip=127\\.0\\.0\\.1,port=${node.port},state=online`).test(master)
    );
  };
  const replicating = async (node: RedisNode, primary: RedisNode, timeoutMs = 30_000) => {
    await waitFor(() => isReplicating(node, primary), timeoutMs, `${node.port} to replicate ${primary.port}`).catch(
      (error: unknown) => {
        throw new Error(`${String(error)}\n${logs()}`, { cause: error });
      },
    );
  };

  const logs = () =>
    [...nodes.map((node) => join(node.dir, 'redis.log')), ...sentinelPorts.map((port) => join(root, `s${port}.log`))]
      .map((file) => {
        const result = spawnSync('tail', ['-n', '15', file], { encoding: 'utf8' });
        return `== ${file}\n${result.stdout}`;
      })
      .join('\n');

  try {
    const primaryPort = await freePort();
    nodes.push(new Node(primaryPort, join(root, `n${primaryPort}`), undefined));
    for (let index = 0; index < (options.replicas ?? 1); index++) {
      const port = await freePort();
      nodes.push(new Node(port, join(root, `n${port}`), primaryPort));
    }
    for (const node of nodes) {
      node.process.start();
      await waitFor(() => ping(node.port), 15_000, `redis-server on ${node.port}`);
    }
    for (let index = 0; index < 3; index++) {
      const port = await freePort();
      sentinelPorts.push(port);
      const configFile = join(root, `s${port}.conf`);
      writeFileSync(
        configFile,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          'daemonize no',
          `dir ${root}`,
          `logfile ${join(root, `s${port}.log`)}`,
          `sentinel monitor ${SENTINEL_NAME} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_NAME} ${DOWN_AFTER_MS}`,
          `sentinel failover-timeout ${SENTINEL_NAME} ${FAILOVER_TIMEOUT_MS}`,
          `sentinel parallel-syncs ${SENTINEL_NAME} 1`,
          '',
        ].join('\n'),
      );
      const [command, args] = sentinelCommand(configFile);
      const sentinel = new Process(command, args);
      sentinels.push(sentinel);
      sentinel.start();
      await waitFor(() => ping(port), 15_000, `sentinel on ${port}`);
    }
    for (const replica of nodes.slice(1)) await replicating(replica, nodes[0]!);
    // A failover needs every sentinel to know the others (quorum, election) and the replicas.
    await waitFor(
      async () => {
        const views = await askSentinels(async (client) => {
          const peers = (await client.call('SENTINEL', 'SENTINELS', SENTINEL_NAME)) as unknown[];
          const replicas = (await client.call('SENTINEL', 'REPLICAS', SENTINEL_NAME)) as unknown[];
          return peers.length === 2 && replicas.length === nodes.length - 1;
        });
        return views.every(Boolean);
      },
      30_000,
      'sentinels to discover each other and the replicas',
    );
  } catch (error) {
    await stopAll();
    const detail = logs();
    rmSync(root, { recursive: true, force: true });
    throw new Error(`${String(error)}\n${detail}`, { cause: error });
  }

  const set: TestSentinelSet = {
    sentinels: sentinelPorts.map((port) => ({ host: '127.0.0.1', port })),
    name: SENTINEL_NAME,
    nodes,
    async primary() {
      return nodeOn((await primaryPorts())[0]!);
    },
    client(node) {
      let client = clients.get(node.port);
      if (!client) {
        client = new Redis({ port: node.port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 100 });
        client.on('error', () => undefined);
        clients.set(node.port, client);
      }
      return client;
    },
    kill: (node) => (node as Node).process.stop('SIGKILL'),
    pause: (node) => process.kill(node.pid!, 'SIGSTOP'),
    resume: (node) => process.kill(node.pid!, 'SIGCONT'),
    async restart(node) {
      (node as Node).process.start();
      await waitFor(() => ping(node.port), 15_000, `redis-server on ${node.port}`);
    },
    async waitForFailover(old, timeoutMs = 30_000) {
      let promoted: RedisNode | undefined;
      await waitFor(
        async () => {
          const ports = await primaryPorts();
          if (ports.some((port) => port === old.port || port !== ports[0])) return false;
          promoted = nodeOn(ports[0]!);
          const role = (await set
            .client(promoted)
            .call('ROLE')
            .catch(() => [])) as string[];
          return role[0] === 'master';
        },
        timeoutMs,
        `a failover away from ${old.port}`,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${logs()}`, { cause: error });
      });
      return promoted!;
    },
    async switchover() {
      const answer = await ask(sentinelPorts[0]!, (client) => client.call('SENTINEL', 'FAILOVER', SENTINEL_NAME));
      if (answer !== 'OK') throw new Error(`SENTINEL FAILOVER answered ${String(answer)}`);
    },
    async waitUntilReplicated(timeoutMs = 60_000) {
      await waitFor(
        async () => {
          const primary = await set.primary().catch(() => undefined);
          if (!primary) return false;
          const others = nodes.filter((node) => node.port !== primary.port);
          const replicated = await Promise.all(others.map((node) => isReplicating(node, primary).catch(() => false)));
          return replicated.every(Boolean);
        },
        timeoutMs,
        'every node replicating the primary',
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${logs()}`, { cause: error });
      });
    },
    async cleanup() {
      await stopAll();
      rmSync(root, { recursive: true, force: true });
    },
    logs,
  };
  return set;
}

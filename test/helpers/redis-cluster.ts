// Starts a real Redis Cluster for a test on loopback: N primaries with replicas, each a redis-server child of its own.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { portFree } from './ports.js';
import { waitFor } from './wait.js';

export const CLUSTER_SLOTS = 16384;

/** How long a node may not answer before the others suspect it: short, so that a failover takes about 2 s. */
export const NODE_TIMEOUT_MS = 1000;

export type ClusterRole = 'primary' | 'replica';

/** One redis-server of the cluster, known by its port. */
export interface ClusterNode {
  port: number;
  /** The cluster bus port: always port + 10000. */
  busPort: number;
  dir: string;
  /** Its cluster node id (kept in nodes.conf across restarts). */
  readonly id: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  /** As last seen: after the start, waitForFailover, restart, reshard, moveSlot or refresh. */
  readonly role: ClusterRole;
  /** A replica's primary as last seen (undefined for a primary). */
  readonly primaryPort: number | undefined;
}

export interface TestCluster {
  nodes: ClusterNode[];
  /** What an ioredis Cluster takes: every node, primaries first. */
  startupNodes: Array<{ host: string; port: number }>;
  /** An ioredis Cluster for assertions (closed by cleanup). */
  client: Cluster;
  /** How long startTestCluster took, from the first spawn to every node agreeing and every replica in sync. */
  startupMs: number;
  /** The primaries and replicas as last seen. */
  primaries(): ClusterNode[];
  replicasOf(primaryPort: number): ClusterNode[];
  node(port: number): ClusterNode;
  /** Asks every running node again what it is (roles and primaries in `nodes`). */
  refresh(): Promise<ClusterNode[]>;
  /** The running primary that serves the slot: the one whose own view says it owns it. */
  primaryForSlot(slot: number): Promise<ClusterNode>;
  primaryForKey(key: string): Promise<ClusterNode>;
  /** A plain (non-cluster) client on one node, e.g. for WAIT on the connection that wrote (closed by cleanup). */
  nodeClient(port: number): Redis;
  /** Another ioredis Cluster on these nodes with options of the test's own (closed by cleanup). */
  newClient(options?: ClusterOptions): Cluster;
  /** SIGKILL: nothing is flushed that was not already fsynced. */
  kill(port: number): Promise<void>;
  /** SIGTERM: Redis waits for its replicas to catch up (shutdown-timeout), flushes the AOF and exits. */
  stop(port: number): Promise<void>;
  /** Starts the node again on its port, data dir and nodes.conf; resolves once it has rejoined and the cluster settled. */
  restart(port: number, timeoutMs?: number): Promise<void>;
  /**
   * Resolves once a replica of the old primary serves its slots, and every running node agrees and
   * says cluster_state:ok. Returns the ms since kill/stop of that port (since the call if it was not).
   */
  waitForFailover(oldPrimaryPort: number, timeoutMs?: number): Promise<number>;
  /** The slots a node's own view says it serves, ascending. */
  slotsOf(port: number): Promise<number[]>;
  /** `redis-cli --cluster reshard`: moves `count` slots (redis-cli takes the lowest) from one primary to another. */
  reshard(move: { from: number; to: number; count: number }): Promise<{ slots: number[]; ms: number }>;
  /** Moves one slot with its keys (SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE); returns the ms taken. */
  moveSlot(slot: number, toPort: number): Promise<number>;
  /** Resolves once every running node says cluster_state:ok, they agree on every slot's primary and replicas are in sync. */
  waitUntilSettled(timeoutMs?: number): Promise<void>;
  /** Each running node's own CLUSTER NODES, parsed (for assertions on flags). */
  views(): Promise<Map<number, ClusterView[]>>;
  /** Every process of the cluster stops (SIGKILL by PID), clients are closed and the temp dir removed. */
  cleanup(): Promise<void>;
  /** The last lines of every node's log, for failure messages. */
  logs(): string;
}

/** One line of CLUSTER NODES. */
export interface ClusterView {
  id: string;
  port: number;
  flags: string[];
  /** The primary's id for a replica, '-' for a primary. */
  primaryId: string;
  linkState: string;
  configEpoch: number;
  /** Slots served, without the [slot->-id] / [slot-<-id] migration marks. */
  slots: Array<[number, number]>;
}

// --- key slots (CRC16/XMODEM of the hash tag, as Redis computes it) ---

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

/** The slot of a key: of its hash tag (the first non-empty `{...}`) when it has one. */
export function keySlot(key: string | Buffer): number {
  let bytes = Buffer.isBuffer(key) ? key : Buffer.from(key);
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]!) & 0xffff;
  return crc % CLUSTER_SLOTS;
}

// --- ports ---

/**
 * A node needs its port and port + 10000 (the cluster bus). Both are taken below the kernel's
 * ephemeral range (32768-60999), where outgoing connections take theirs, and apart from freePort()'s
 * 23000-29999: ports 20000-22767, bus ports 30000-32767.
 */
const PORT_LOW = 20000;
const PORT_HIGH = 22767;
const BUS_OFFSET = 10000;

/** A port whose bus port is free too, not one of `taken`. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PORT_LOW + Math.floor(Math.random() * (PORT_HIGH - PORT_LOW + 1));
    if (taken.has(port)) continue;
    if ((await portFree(port)) && (await portFree(port + BUS_OFFSET))) {
      taken.add(port);
      return port;
    }
  }
  throw new Error(`no free port pair in ${PORT_LOW}-${PORT_HIGH} (+${BUS_OFFSET})`);
}

// --- nodes ---

/** The durable settings Holdfast demands, on every node: a replica becomes a primary one day. */
const DURABLE = ['appendonly yes', 'appendfsync always', 'maxmemory-policy noeviction', 'save ""'];

const CLUSTER = [
  'cluster-enabled yes',
  `cluster-node-timeout ${NODE_TIMEOUT_MS}`,
  // A shard with no node left leaves its slots unserved, and only those: the other shards serve on.
  'cluster-require-full-coverage no',
  // A replica that (re)joins is synced at once instead of after the default 5 s wait for more replicas.
  'repl-diskless-sync-delay 0',
];

class Node implements ClusterNode {
  child: ChildProcess | undefined;
  id = '';
  role: ClusterRole = 'primary';
  primaryPort: number | undefined;
  /** When kill() or stop() ended it, for waitForFailover's figure. */
  downSince: number | undefined;
  readonly configFile: string;

  constructor(
    readonly port: number,
    readonly dir: string,
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
        `cluster-config-file ${join(dir, 'nodes.conf')}`,
        ...CLUSTER,
        ...DURABLE,
        '',
      ].join('\n'),
    );
  }

  get busPort(): number {
    return this.port + BUS_OFFSET;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    this.downSince = undefined;
    this.child = spawn('redis-server', [this.configFile], { stdio: 'ignore' });
    this.child.on('error', () => undefined);
  }

  async signal(signal: NodeJS.Signals, timeoutMs = 20_000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = once(child, 'exit');
    process.kill(child.pid!, signal);
    const ended = await Promise.race([exited.then(() => true), sleep(timeoutMs).then(() => false)]);
    if (!ended) {
      process.kill(child.pid!, 'SIGKILL');
      await exited;
    }
    this.downSince = Date.now();
  }

  /** Synchronous, for process exit. */
  killNow(): void {
    if (this.running) this.child!.kill('SIGKILL');
  }

  /** Resolves once it answers PING; false if it exited first (its port taken after all). */
  async ready(timeoutMs = 15_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) return false;
      if ((await ask(this.port, (client) => client.ping())) === 'PONG') return true;
      await sleep(20);
    }
    throw new Error(`redis-server on ${this.port} did not answer in ${timeoutMs} ms`);
  }
}

/** Asks a node once on a connection of its own; undefined when it does not answer. */
async function ask<T>(port: number, question: (client: Redis) => Promise<T>): Promise<T | undefined> {
  const probe = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 500,
    retryStrategy: () => null,
  });
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

/** Parses CLUSTER NODES. */
export function parseClusterNodes(text: string): ClusterView[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id, address, flags, primaryId, , , epoch, linkState, ...slots] = line.trim().split(' ');
      return {
        id: id!,
        port: Number(/:(\d+)@/.exec(address!)?.[1]),
        flags: flags!.split(','),
        primaryId: primaryId!,
        linkState: linkState!,
        configEpoch: Number(epoch),
        slots: slots
          .filter((range) => !range.startsWith('['))
          .map((range): [number, number] => {
            const [low, high] = range.split('-').map(Number);
            return [low!, high ?? low!];
          }),
      };
    });
}

const serves = (view: ClusterView, slot: number) => view.slots.some(([low, high]) => slot >= low && slot <= high);

/** Which node id serves which slots, as one string: equal strings, equal views. */
function slotMapSignature(views: ClusterView[]): string {
  return views
    .filter((view) => view.flags.includes('master') && view.slots.length > 0)
    .map((view) => `${view.id}:${view.slots.map(([low, high]) => `${low}-${high}`).join(',')}`)
    .sort()
    .join(' ');
}

function runRedisCli(args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`redis-cli ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/**
 * Starts `primaries` (default 3, at least 3 for redis-cli) primaries with `replicasPerPrimary` (default 1)
 * replicas each, made a cluster by `redis-cli --cluster create`; resolves once every node says
 * cluster_state:ok, they all agree on the slots, every replica is in sync and `client` is ready.
 */
export async function startTestCluster(
  options: { primaries?: number; replicasPerPrimary?: number } = {},
): Promise<TestCluster> {
  const startedAt = Date.now();
  const primaryCount = options.primaries ?? 3;
  const replicasPerPrimary = options.replicasPerPrimary ?? 1;
  if (primaryCount < 3) throw new Error('redis-cli --cluster create needs at least 3 primaries');
  const root = mkdtempSync(join(tmpdir(), 'holdfast-cluster-'));
  const nodes: Node[] = [];
  const clients: Array<Redis | Cluster> = [];
  const nodeClients = new Map<number, Redis>();
  const taken = new Set<number>();
  const killAllNow = () => nodes.forEach((node) => node.killNow());
  // A test that dies without cleanup must not leave redis-servers behind.
  process.on('exit', killAllNow);

  const logs = () =>
    nodes
      .map((node) => {
        const result = spawnSync('tail', ['-n', '15', join(node.dir, 'redis.log')], { encoding: 'utf8' });
        return `== ${node.port} (${node.role}, ${node.running ? 'running' : 'down'})\n${result.stdout}`;
      })
      .join('\n');

  const withLogs = (error: unknown): never => {
    throw new Error(`${String(error)}\n${logs()}`, { cause: error });
  };

  const nodeOn = (port: number): Node => {
    const node = nodes.find((candidate) => candidate.port === port);
    if (!node) throw new Error(`no node of this cluster listens on ${port}`);
    return node;
  };

  const running = () => nodes.filter((node) => node.running);

  const views = async (): Promise<Map<number, ClusterView[]>> => {
    const answers = await Promise.all(
      running().map(async (node) => [node.port, await ask(node.port, (client) => client.cluster('NODES'))] as const),
    );
    const result = new Map<number, ClusterView[]>();
    for (const [port, text] of answers) if (typeof text === 'string') result.set(port, parseClusterNodes(text));
    return result;
  };

  /** Roles, ids and primaries from each running node's own line; a node that is down keeps its last. */
  const refresh = async (): Promise<ClusterNode[]> => {
    const seen = await views();
    for (const [port, lines] of seen) {
      const myself = lines.find((line) => line.flags.includes('myself'));
      if (!myself) continue;
      const node = nodeOn(port);
      node.id = myself.id;
      node.role = myself.flags.includes('master') ? 'primary' : 'replica';
      node.primaryPort = node.role === 'replica' ? lines.find((line) => line.id === myself.primaryId)?.port : undefined;
    }
    return nodes;
  };

  const replicationInfo = async (port: number) => (await ask(port, (client) => client.info('replication'))) ?? '';

  /** Every running node: cluster_state:ok, the same slot map, every running node seen as up; replicas in sync. */
  const isSettled = async (): Promise<boolean> => {
    const live = running();
    const [seen, infos] = await Promise.all([
      views(),
      Promise.all(live.map((node) => ask(node.port, (client) => client.cluster('INFO')))),
    ]);
    if (seen.size !== live.length || infos.some((info) => !info?.includes('cluster_state:ok'))) return false;
    const livePorts = new Set(live.map((node) => node.port));
    const signatures = new Set<string>();
    for (const lines of seen.values()) {
      signatures.add(slotMapSignature(lines));
      if (lines.length !== nodes.length) return false;
      for (const line of lines) {
        if (!livePorts.has(line.port)) continue;
        const up = line.linkState === 'connected' || line.flags.includes('myself');
        if (!up || line.flags.some((flag) => flag === 'fail' || flag === 'fail?' || flag === 'handshake')) return false;
      }
    }
    if (signatures.size !== 1) return false;
    await refresh();
    for (const replica of live.filter((node) => node.role === 'replica')) {
      const primary = nodes.find((node) => node.port === replica.primaryPort);
      if (!primary?.running) continue;
      const [mine, theirs] = await Promise.all([replicationInfo(replica.port), replicationInfo(primary.port)]);
      if (!mine.includes(`master_port:${primary.port}`) || !mine.includes('master_link_status:up')) return false;
      if (!new RegExp(`slave\\d+:ip=127\\.0\\.0\\.1,port=${replica.port},state=online`).test(theirs)) return false;
    }
    return true;
  };

  const waitUntilSettled = async (timeoutMs = 30_000) => {
    await waitFor(isSettled, timeoutMs, 'the cluster to settle').catch(withLogs);
  };

  const primaryForSlot = async (slot: number): Promise<ClusterNode> => {
    const seen = await views();
    const claims: Array<{ node: Node; epoch: number }> = [];
    for (const [port, lines] of seen) {
      const myself = lines.find((line) => line.flags.includes('myself'));
      if (myself?.flags.includes('master') && serves(myself, slot)) {
        claims.push({ node: nodeOn(port), epoch: myself.configEpoch });
      }
    }
    claims.sort((a, b) => b.epoch - a.epoch);
    if (!claims[0]) throw new Error(`no running primary serves slot ${slot}`);
    return claims[0].node;
  };

  const nodeClient = (port: number): Redis => {
    let client = nodeClients.get(port);
    if (!client) {
      client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 100 });
      client.on('error', () => undefined);
      nodeClients.set(port, client);
      clients.push(client);
    }
    return client;
  };

  const startupNodes = () =>
    [...nodes]
      .sort((a, b) => Number(a.role === 'replica') - Number(b.role === 'replica'))
      .map((node) => ({ host: '127.0.0.1', port: node.port }));

  const newClient = (clientOptions: ClusterOptions = {}): Cluster => {
    const client = new Cluster(startupNodes(), {
      clusterRetryStrategy: () => 100,
      slotsRefreshTimeout: 2000,
      ...clientOptions,
    });
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  };

  const stopAll = async () => {
    for (const client of clients) client.disconnect();
    await Promise.all(nodes.map((node) => node.signal('SIGKILL')));
    process.off('exit', killAllNow);
  };

  let client: Cluster;
  try {
    // Every node at once; a node whose port was taken meanwhile (it exits) gets another pair.
    const count = primaryCount * (1 + replicasPerPrimary);
    for (let index = 0; index < count; index++) {
      nodes.push(new Node(await freeClusterPort(taken), join(root, `node${index}`)));
    }
    for (const node of nodes) node.start();
    for (let index = 0; index < count; index++) {
      for (let attempt = 1; !(await nodes[index]!.ready()); attempt++) {
        if (attempt === 3) throw new Error(`redis-server on ${nodes[index]!.port} exited during start`);
        rmSync(nodes[index]!.dir, { recursive: true, force: true });
        nodes[index] = new Node(await freeClusterPort(taken), join(root, `node${index}`));
        nodes[index]!.start();
      }
    }
    // redis-cli makes the first `primaryCount` nodes primaries and gives each its replicas.
    await runRedisCli([
      '--cluster',
      'create',
      ...nodes.map((node) => `127.0.0.1:${node.port}`),
      '--cluster-replicas',
      String(replicasPerPrimary),
      '--cluster-yes',
    ]);
    await waitUntilSettled();
    client = newClient();
    await waitFor(() => client.status === 'ready', 15_000, 'the ioredis Cluster client to be ready');
  } catch (error) {
    await stopAll();
    const detail = logs();
    rmSync(root, { recursive: true, force: true });
    throw new Error(`${String(error)}\n${detail}`, { cause: error });
  }

  const cluster: TestCluster = {
    nodes,
    startupNodes: startupNodes(),
    client,
    startupMs: Date.now() - startedAt,
    primaries: () => nodes.filter((node) => node.role === 'primary'),
    replicasOf: (port) => nodes.filter((node) => node.role === 'replica' && node.primaryPort === port),
    node: nodeOn,
    refresh,
    primaryForSlot,
    primaryForKey: (key) => primaryForSlot(keySlot(key)),
    nodeClient,
    newClient,
    kill: (port) => nodeOn(port).signal('SIGKILL'),
    stop: (port) => nodeOn(port).signal('SIGTERM'),
    async restart(port, timeoutMs = 30_000) {
      const node = nodeOn(port);
      await node.signal('SIGTERM');
      nodeClients.get(port)?.disconnect();
      nodeClients.delete(port);
      node.start();
      if (!(await node.ready())) withLogs(new Error(`redis-server on ${port} exited during restart`));
      await waitUntilSettled(timeoutMs);
    },
    async waitForFailover(oldPrimaryPort, timeoutMs = 30_000) {
      const calledAt = Date.now();
      const old = nodeOn(oldPrimaryPort);
      const since = old.downSince ?? calledAt;
      const candidates = nodes.filter((node) => node.primaryPort === oldPrimaryPort);
      if (candidates.length === 0) throw new Error(`${oldPrimaryPort} has no replica to fail over to`);
      await waitFor(
        async () => {
          const promoted = await Promise.all(
            candidates.map(async (node) => {
              const role = (await ask(node.port, (probe) => probe.call('ROLE'))) as unknown[] | undefined;
              return role?.[0] === 'master';
            }),
          );
          return promoted.some(Boolean) && (await isSettled());
        },
        timeoutMs,
        `a replica of ${oldPrimaryPort} to take over`,
      ).catch(withLogs);
      return Date.now() - since;
    },
    async reshard({ from, to, count }) {
      const startedReshard = Date.now();
      await refresh();
      const source = nodeOn(from);
      const target = nodeOn(to);
      const before = new Set(await slotsOf(target.port));
      await runRedisCli([
        '--cluster',
        'reshard',
        `127.0.0.1:${source.port}`,
        ...['--cluster-from', source.id, '--cluster-to', target.id],
        ...['--cluster-slots', String(count), '--cluster-yes'],
      ]).catch(withLogs);
      await waitUntilSettled();
      const slots = (await slotsOf(target.port)).filter((slot) => !before.has(slot));
      return { slots, ms: Date.now() - startedReshard };
    },
    async moveSlot(slot, toPort) {
      const startedMove = Date.now();
      await refresh();
      const source = nodeOn((await primaryForSlot(slot)).port);
      const target = nodeOn(toPort);
      if (target.role !== 'primary') throw new Error(`${toPort} is not a primary`);
      if (source === target) return 0;
      const sourceClient = nodeClient(source.port);
      await nodeClient(target.port).call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id);
      await sourceClient.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
      for (;;) {
        const keys = (await sourceClient.call('CLUSTER', 'GETKEYSINSLOT', slot, 1000)) as string[];
        if (keys.length === 0) break;
        await sourceClient.call('MIGRATE', '127.0.0.1', target.port, '', 0, 10_000, 'KEYS', ...keys);
      }
      // The target first (it bumps its epoch), then the source, then every other primary.
      const others = running().filter((node) => node.role === 'primary' && node !== source && node !== target);
      for (const node of [target, source, ...others]) {
        await nodeClient(node.port).call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
      }
      await waitUntilSettled();
      return Date.now() - startedMove;
    },
    waitUntilSettled,
    views,
    async cleanup() {
      await stopAll();
      rmSync(root, { recursive: true, force: true });
    },
    logs,
    slotsOf,
  };

  /** The slots a node's own view says it serves. */
  async function slotsOf(port: number): Promise<number[]> {
    const lines = parseClusterNodes(String(await nodeClient(port).cluster('NODES')));
    const myself = lines.find((line) => line.flags.includes('myself'));
    return (myself?.slots ?? []).flatMap(([low, high]) => Array.from({ length: high - low + 1 }, (_, i) => low + i));
  }

  return cluster;
}

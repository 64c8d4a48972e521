// One outage scenario's world: a Redis (or a Redis Cluster), three real Dovecot stores, a bounce smarthost, Holdfast nodes as processes.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDovecot, type TestDovecot } from '../../helpers/dovecot.js';
import { FakeMailstore } from '../../helpers/mailstore.js';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server.js';
import { startTestCluster, type TestCluster } from '../../helpers/redis-cluster.js';
import { holdfastCli, type CliResult } from '../../helpers/cli.js';
import { waitFor } from '../../helpers/wait.js';
import type { MailstoreStatus } from '../../../src/admin/mailstores.js';
import { HoldfastNode } from './holdfast-node.js';
import { SlowLink } from './slow-link.js';
import { Sender, type SenderOptions } from './sender.js';
import { countFigures, findCopies, summaryLine, type Figures } from './checker.js';
import { ADDRESSES, STORES, USERS, nodeConfig, recipientsFor, type StoreId } from './site.js';

/** Where the figures of each scenario are written, for docs/reliability.md. */
export const RESULTS_DIR = join(process.cwd(), 'var', 'reliability');

export interface WorldOptions {
  /** Holdfast processes on the one Redis (default 1). */
  nodes?: number;
  /** Each store's replies reach Holdfast this much later (a SlowLink in front of it): deliveries are in flight longer. */
  slowStoresMs?: number;
  /**
   * Worker locks of 4 s, checked every 2 s, instead of the defaults (30 s, 15 s): for crash
   * scenarios, where the jobs a dead node (or a dead Redis) leaves running wait for their lock to lapse.
   */
  shortLocks?: boolean;
  /**
   * The nodes on a Redis Cluster of three primaries (no replicas: the scenarios are about the
   * stores and the nodes, not Redis failover, which test/integration/cluster-*.test.ts cover)
   * instead of one redis-server. The three stores hash to three different primaries.
   */
  cluster?: boolean;
}

/** The suite's scenarios run on each: one Redis, then a Cluster (results files `<scenario>-cluster.json`). */
export const REDIS_SETUPS: ReadonlyArray<{ name: string; options: WorldOptions; suffix: string }> = [
  { name: 'one Redis', options: {}, suffix: '' },
  { name: 'a Redis Cluster', options: { cluster: true }, suffix: '-cluster' },
];

/** A world's Redis: one redis-server, or a Cluster; either way what the nodes' config names. */
type WorldRedis = { single: TestRedis; cluster?: undefined } | { single?: undefined; cluster: TestCluster };

async function startWorldRedis(cluster: boolean): Promise<WorldRedis & { cleanup(): Promise<void> }> {
  if (cluster) {
    const started = await startTestCluster({ replicasPerPrimary: 0 });
    return { cluster: started, cleanup: () => started.cleanup() };
  }
  const single = await startTestRedis();
  return { single, cleanup: () => single.cleanup() };
}

export class OutageWorld {
  readonly nodes: HoldfastNode[] = [];
  readonly smarthost = new FakeMailstore('smtp');
  private readonly links: SlowLink[] = [];
  private senders: Sender[] = [];

  private constructor(
    readonly scenario: string,
    readonly dir: string,
    private readonly backend: WorldRedis & { cleanup(): Promise<void> },
    readonly stores: Record<StoreId, TestDovecot>,
  ) {}

  /** The Cluster of a world started with `cluster: true`. */
  get cluster(): TestCluster {
    if (!this.backend.cluster) throw new Error(`${this.scenario} runs on one Redis`);
    return this.backend.cluster;
  }

  /** The one redis-server of a world that is not on a Cluster (for the scenarios that kill it). */
  get redis(): TestRedis {
    if (!this.backend.single) throw new Error(`${this.scenario} runs on a Redis Cluster`);
    return this.backend.single;
  }

  /** Starts everything; whatever started is stopped again if a later part fails. */
  static async start(scenario: string, options: WorldOptions = {}): Promise<OutageWorld> {
    const dir = mkdtempSync(join(tmpdir(), `holdfast-outage-${scenario}-`));
    const started: Array<{ cleanup(): Promise<void> }> = [];
    try {
      const redis = await startWorldRedis(options.cluster ?? false);
      started.push(redis);
      const stores = {} as Record<StoreId, TestDovecot>;
      for (const store of STORES) {
        stores[store] = await startDovecot({ users: ADDRESSES });
        started.push(stores[store]);
      }
      const world = new OutageWorld(scenario, dir, redis, stores);
      started.splice(0, started.length, world); // from now on the world stops all of it
      const smarthostPort = await world.smarthost.start();
      const storePorts = {} as Record<StoreId, number>;
      for (const store of STORES) {
        if (options.slowStoresMs === undefined) storePorts[store] = stores[store].port;
        else {
          const link = new SlowLink(stores[store].port, options.slowStoresMs);
          world.links.push(link);
          storePorts[store] = await link.start();
        }
      }
      for (let index = 1; index <= (options.nodes ?? 1); index++) {
        const node = new HoldfastNode(
          `node${index}`,
          dir,
          await nodeConfig(
            index,
            redis.cluster ? { cluster: { nodes: redis.cluster.startupNodes } } : { url: redis.single.url },
            storePorts,
            smarthostPort,
            options.shortLocks ?? false,
          ),
        );
        world.nodes.push(node);
        await node.start();
      }
      return world;
    } catch (error) {
      for (const part of started.reverse()) await part.cleanup().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  get node(): HoldfastNode {
    return this.nodes[0]!;
  }

  sender(options: Omit<SenderOptions, 'scenario' | 'mx' | 'recipientsFor'> & Partial<SenderOptions>): Sender {
    const sender = new Sender({
      scenario: this.scenario,
      mx: this.nodes.map((node) => ({ name: node.name, port: node.smtpPort })),
      recipientsFor,
      ...options,
    });
    this.senders.push(sender);
    return sender;
  }

  /** An operator command, run as an operator would: `holdfast ARGS --config <the node's file>`. */
  async cli(...args: string[]): Promise<CliResult> {
    const node = this.nodes.find((candidate) => candidate.running) ?? this.node;
    const result = await holdfastCli(node.configFile, ...args);
    if (result.code !== 0) throw new Error(`holdfast ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return result;
  }

  /** Every store's status from a running node's admin API (what a monitoring system polls). */
  async status(): Promise<MailstoreStatus[]> {
    const node = this.nodes.find((candidate) => candidate.running);
    if (!node) throw new Error('no node is running');
    const port = (node.config.admin as { port: number }).port;
    const response = await fetch(`http://127.0.0.1:${port}/api/v1/stores`);
    if (!response.ok) throw new Error(`GET /api/v1/stores: ${response.status}`);
    return ((await response.json()) as { stores: MailstoreStatus[] }).stores;
  }

  async storeStatus(store: StoreId): Promise<MailstoreStatus> {
    const status = (await this.status()).find((entry) => entry.mailstore === store);
    if (!status) throw new Error(`no status for ${store}`);
    return status;
  }

  /** Acknowledged messages with a recipient on the store that has no copy there yet. */
  awaitingOn(sender: Sender, store: StoreId): number {
    const copies = findCopies({ [store]: this.stores[store] }, ADDRESSES);
    const found = new Set(copies.map((copy) => `${copy.token} ${copy.user}`));
    return sender.messages.filter(
      (message) =>
        message.acknowledged &&
        message.recipients.some((user) => USERS[user] === store && !found.has(`${message.token} ${user}`)),
    ).length;
  }

  /** Deliveries recorded so far to one store (copies in its Maildirs), or to every store. */
  copiesOn(store?: StoreId): number {
    const stores = store === undefined ? this.stores : { [store]: this.stores[store] };
    return findCopies(stores, ADDRESSES).length;
  }

  /**
   * Waits (up to `timeoutMs`, no assertion) until every acknowledged message is in its mailboxes and
   * no store has mail left to deliver; then counts, prints the one-line report and writes the figures
   * (with `notes` about the run) to var/reliability/<scenario>.json.
   */
  async settleAndCount(sender: Sender, notes: Record<string, unknown> = {}, timeoutMs = 90_000): Promise<Figures> {
    const figures = () => this.count(sender);
    const settled = async () => {
      if (figures().lost > 0) return false;
      const stores = await this.status().catch(() => []);
      return stores.length > 0 && stores.every(({ backlog, counts }) => backlog.messages === 0 && counts.active === 0);
    };
    await waitFor(settled, timeoutMs, 'every acknowledged message delivered and every queue empty').catch(
      () => undefined,
    );
    const result = figures();
    console.log(summaryLine(result));
    mkdirSync(RESULTS_DIR, { recursive: true });
    const deliveriesByNode = Object.fromEntries(this.nodes.map((node) => [node.name, node.events('Delivery').length]));
    const record = {
      ...result,
      notes: { ...notes, deliveriesByNode },
      measuredAt: new Date().toISOString(),
      logs: this.logsOf(result.toExplain.queueIds),
      storeLogs: this.storeLogsOf(result.toExplain.tokens),
    };
    writeFileSync(join(RESULTS_DIR, `${this.scenario}.json`), `${JSON.stringify(record, null, 2)}\n`);
    return result;
  }

  /** Every node's log records of these messages, in time order, as lines for the results file. */
  logsOf(queueIds: readonly string[]): string[] {
    const wanted = new Set(queueIds);
    const lines: string[] = [];
    for (const node of this.nodes) {
      for (const record of node.logs) {
        if (record.queueId === undefined || !wanted.has(record.queueId)) continue;
        const error = (record.err as { message?: string } | undefined)?.message;
        const fields = [
          String(record.time),
          node.name,
          record.queueId,
          record.mailstore,
          record.event,
          record.msg,
          typeof record.reply === 'string' ? record.reply : undefined,
          error,
        ];
        lines.push(fields.filter((field) => field !== undefined).join(' '));
      }
    }
    return lines.sort();
  }

  /** What each store's Dovecot logged about these messages (by Message-ID). */
  storeLogsOf(tokens: readonly string[]): string[] {
    return Object.entries(this.stores).flatMap(([store, dovecot]) =>
      dovecot
        .log()
        .split('\n')
        .filter((line) => tokens.some((token) => line.includes(`<${token}@`)))
        .map((line) => `${store}: ${line}`),
    );
  }

  count(sender: Sender): Figures {
    return countFigures({
      scenario: this.scenario,
      messages: sender.messages,
      copies: findCopies(this.stores, ADDRESSES),
      storeOf: (user) => USERS[user]!,
      bounces: this.smarthost.messages,
    });
  }

  /** Stops every process this world started (by PID for the nodes), also after a failure. */
  async cleanup(): Promise<void> {
    for (const sender of this.senders) sender.close();
    for (const node of this.nodes) await node.stop().catch(() => undefined);
    await this.smarthost.stop();
    for (const link of this.links) await link.stop();
    await Promise.all(Object.values(this.stores).map((store) => store.cleanup().catch(() => undefined)));
    await this.backend.cleanup().catch(() => undefined);
    // HOLDFAST_OUTAGE_KEEP=1 keeps the nodes' config and log files for a look afterwards.
    if (process.env.HOLDFAST_OUTAGE_KEEP) console.log(`[outage] ${this.scenario}: node logs kept in ${this.dir}`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

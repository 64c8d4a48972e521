// Creates the ioredis connections: a fail-fast one for intake, a patient one for workers.
import { Cluster, Redis, type ChainableCommander, type RedisOptions } from 'ioredis';
import type { Config } from '../config/schema.js';
import { defineLuaScripts } from './scripts.js';

export type ConnectionRole = 'intake' | 'worker' | 'control' | 'queues';

export interface RedisTarget {
  url?: string;
  sentinels?: Array<{ host: string; port: number }>;
  sentinelName?: string;
  /** Some nodes of a Redis Cluster. */
  cluster?: Array<{ host: string; port: number }>;
  password?: string;
}

export function redisTarget(config: Config, embeddedUrl?: string): RedisTarget {
  const { url, sentinels, sentinelName, cluster, password } = config.redis;
  return { url: url ?? embeddedUrl, sentinels, sentinelName, cluster: cluster?.nodes, password };
}

/**
 * intake: no offline queue and a command timeout, so a dead or slow Redis turns into a 451 quickly.
 * worker: BullMQ needs maxRetriesPerRequest null so blocking commands survive reconnects.
 * control: bounded retries for admin and bookkeeping commands, auto-pipelined: what the delivery
 * workers record around each attempt (its trace, outcomes, retained copy, the job's end) goes to
 * Redis in one write per event loop turn instead of one each. Not on BullMQ's connections (its
 * users reported jobs losing their data with it) nor intake's (each commit is one MULTI already).
 * queues: control's bounds for BullMQ's queue operations (counts, pause, limits, moves).
 */
export function createRedis(target: RedisTarget, role: ConnectionRole, commandTimeout: number): Redis {
  const common: RedisOptions = {
    connectionName: `holdfast-${role}`,
    password: target.password,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
  const perRole: Record<ConnectionRole, RedisOptions> = {
    intake: { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout },
    worker: { maxRetriesPerRequest: null },
    control: { maxRetriesPerRequest: 2, commandTimeout, enableAutoPipelining: true },
    queues: { maxRetriesPerRequest: 2, commandTimeout },
  };
  const options = { ...common, ...perRole[role] };
  let redis: Redis;
  if (target.cluster) {
    redis = clusterConnection(target.cluster, options);
  } else if (target.sentinels) {
    redis = new Redis({
      ...options,
      sentinels: target.sentinels,
      name: target.sentinelName ?? 'mymaster',
      // Reconnect as soon as a sentinel announces +switch-master, instead of writing on to the old
      // primary until the sentinels demote it (their CLIENT KILL then moves us anyway).
      failoverDetector: true,
    });
  } else if (target.url?.startsWith('unix://')) {
    redis = new Redis({ ...options, path: target.url.slice('unix://'.length) });
  } else {
    redis = new Redis(target.url ?? 'redis://127.0.0.1:6379', options);
  }
  defineLuaScripts(redis);
  // Errors surface through the commands that fail; the event only needs a listener.
  redis.on('error', () => undefined);
  return redis;
}

/**
 * An ioredis Cluster, typed as the single-server client every part of Holdfast takes: the commands
 * are the same, routed by key slot. What differs is kept to a few places, each asking isCluster():
 * every MULTI, pipeline and script stays in one slot (a store's hash tag), and commands that ask a
 * server about itself (CONFIG, INFO) are sent to each primary (clusterPrimaries).
 */
function clusterConnection(nodes: Array<{ host: string; port: number }>, options: RedisOptions): Redis {
  // No auto-pipelining: on a Cluster ioredis picks a script call's node by its first argument,
  // the script's SHA, not its key, and fails the batch (redis/ioredis#2109).
  const { enableOfflineQueue, ...redisOptions } = options;
  delete redisOptions.enableAutoPipelining;
  const cluster = new Cluster(nodes, {
    redisOptions,
    enableOfflineQueue: enableOfflineQueue ?? true,
    enableAutoPipelining: false,
    scaleReads: 'master',
    // A failover takes the cluster's node timeout and a vote: keep retrying a moved slot meanwhile.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 200,
    clusterRetryStrategy: (times) => Math.min(times * 200, 2000),
  });
  return cluster as unknown as Redis;
}

/** Whether the connection is a Redis Cluster's. */
export function isCluster(redis: Redis): boolean {
  return (redis as unknown) instanceof Cluster;
}

/** One read, given the connection or a pipeline (the same commands on either). */
export type Read = (client: Redis | ChainableCommander) => unknown;

/**
 * Reads that go together, their answers in order (the first error thrown). On one Redis in one
 * pipeline: one round trip. On a Cluster each is a command of its own: while a slot migrates, a
 * key still on the old primary answers and one already moved is redirected (ASK), and ioredis then
 * sends the whole pipeline again to the new primary, where the keys not yet moved read as missing.
 * A command of its own is redirected only when its own key has moved.
 */
export async function readTogether(redis: Redis, reads: readonly Read[]): Promise<unknown[]> {
  if (reads.length === 0) return [];
  if (isCluster(redis)) return Promise.all(reads.map((read) => read(redis)));
  const pipeline = redis.pipeline();
  for (const read of reads) read(pipeline);
  return ((await pipeline.exec()) ?? []).map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

/** Slots of the keys asked about (CLUSTER KEYSLOT), per Cluster connection: a store's tag never moves slot. */
const slotsOf = new WeakMap<Cluster, Map<string, number>>();

/**
 * The connection ioredis uses for the primary serving `key` (the one its commands for that key
 * went through, so that WAIT there counts them); the connection itself on a single server.
 */
export async function primaryForKey(redis: Redis, key: string): Promise<Redis> {
  if (!isCluster(redis)) return redis;
  const cluster = redis as unknown as Cluster;
  const known = slotsOf.get(cluster) ?? new Map<string, number>();
  slotsOf.set(cluster, known);
  let slot = known.get(key);
  if (slot === undefined) {
    slot = Number(await cluster.call('CLUSTER', 'KEYSLOT', key));
    known.set(key, slot);
  }
  const nodeKey = cluster.slots[slot]?.[0];
  const primary = cluster
    .nodes('master')
    .find((node) => `${node.options.host ?? ''}:${node.options.port ?? ''}` === nodeKey);
  if (!primary) throw new Error(`no primary known for slot ${slot} (${key})`);
  return primary;
}

/** The Cluster's primaries, one plain connection each (ioredis's own); a single server is its own. */
export function clusterPrimaries(redis: Redis): Redis[] {
  return isCluster(redis) ? (redis as unknown as Cluster).nodes('master') : [redis];
}

/**
 * Resolves once the connection is ready (or after `timeoutMs`, leaving the commands to fail as they
 * would): intake refuses commands while connecting (no offline queue), so the listener must not open
 * before, or the first clients get 451.
 */
export async function whenReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    function done() {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    }
    redis.once('ready', done);
  });
}

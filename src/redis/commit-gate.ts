// Decides whether intake may commit mail now: the Redis it writes to fsyncs every write, and its replicas acknowledge.
import type { Redis } from 'ioredis';
import { HoldfastError, withTimeout } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import { findDurabilityProblems } from './durability.js';
import { isCluster, primaryForKey } from './connections.js';

export interface CommitGateOptions {
  durability: 'strict' | 'relaxed';
  /** Replicas that must acknowledge each commit (0: none are waited for). */
  replicas: number;
  /** How long a probe waits for the replicas. */
  probeTimeoutMs: number;
  /** A closed gate probes again at most this often. */
  probeIntervalMs: number;
  logger: Logger;
  now: () => number;
  /** Told what each check found (the durability metric). */
  onDurability?: (durable: boolean) => void;
}

/**
 * A Redis that reconnects may be another server (Sentinel promoted a replica): its settings are
 * checked again before the next commit. A commit its replicas did not acknowledge closes the gate,
 * so that the following messages are refused before they are written, not after (a message refused
 * after its commit is delivered anyway and then sent again by its sender). While closed, the gate
 * asks with WAIT, at most once per interval, whether the replicas have caught up.
 */
class ShardGate {
  /** A check is due before the next commit (at start, and after every reconnect). */
  private stale = true;
  private refusal: HoldfastError | undefined;
  private probing: Promise<void> | undefined;
  private lastProbeAt = 0;

  constructor(
    private readonly redis: Redis,
    private readonly options: CommitGateOptions,
    /** On a Cluster, which primary this gate is for (in its log lines). */
    private readonly shard: { shard?: string } = {},
  ) {
    redis.on('ready', () => {
      this.stale = true;
    });
  }

  /** Resolves when a commit may go ahead; otherwise throws the reason, which intake answers with 451. */
  async admit(): Promise<void> {
    if (!this.stale && !this.refusal) return;
    const due = this.stale || this.options.now() - this.lastProbeAt >= this.options.probeIntervalMs;
    if (due && !this.probing) {
      this.probing = this.probe().finally(() => {
        this.probing = undefined;
      });
    }
    if (this.probing) await this.probing;
    if (this.refusal) throw this.refusal;
  }

  close(refusal: HoldfastError): void {
    this.lastProbeAt = this.options.now();
    this.change(refusal);
  }

  private async probe(): Promise<void> {
    // A Cluster's connection to one of its primaries is made on its first command (ioredis makes
    // them lazily): the probe is often that first command.
    if (this.redis.status === 'wait') await this.redis.connect().catch(() => undefined);
    if (this.redis.status !== 'ready') throw new HoldfastError('REDIS_UNAVAILABLE', `connection ${this.redis.status}`);
    this.lastProbeAt = this.options.now();
    // A probe that fails (the connection dropped again) leaves the check due.
    const refusal = (await this.durabilityRefusal()) ?? (await this.replicaRefusal());
    this.stale = false;
    this.change(refusal);
  }

  private async durabilityRefusal(): Promise<HoldfastError | undefined> {
    const problems = await findDurabilityProblems(this.redis);
    this.options.onDurability?.(problems.length === 0);
    if (problems.length === 0) return undefined;
    if (this.options.durability === 'strict') return new HoldfastError('REDIS_NOT_DURABLE', problems.join('; '));
    this.options.logger.warn(
      { event: EVENTS.redisNotDurable, problems },
      'redis is not durable: acknowledged mail can be lost',
    );
    return undefined;
  }

  /**
   * WAIT counts the replicas that acknowledged this connection's last write: on a fresh connection,
   * the replicas in sync; after a refused commit, whether they have that commit now.
   */
  private async replicaRefusal(): Promise<HoldfastError | undefined> {
    const { replicas, probeTimeoutMs } = this.options;
    if (replicas === 0) return undefined;
    const acknowledged = await withTimeout(
      this.redis.wait(replicas, probeTimeoutMs),
      probeTimeoutMs + 1000,
      'waiting for replicas',
    );
    return acknowledged >= replicas
      ? undefined
      : new HoldfastError('REDIS_REPLICAS_LAGGING', `${acknowledged} of ${replicas}`);
  }

  private change(refusal: HoldfastError | undefined): void {
    const before = this.refusal;
    this.refusal = refusal;
    if (refusal && !before) {
      this.options.logger.warn(
        { event: EVENTS.commitsRefused, reason: refusal.code, detail: refusal.message, ...this.shard },
        'refusing new mail with 451 until Redis can keep it',
      );
    } else if (!refusal && before) {
      this.options.logger.info({ event: EVENTS.commitsResumed, ...this.shard }, 'accepting new mail again');
    }
  }
}

/**
 * One gate per Redis primary a commit writes to: the single server, or on a Cluster each shard the
 * message's stores live on. A shard whose replicas lag, or that is not durable, refuses only the
 * mail for its own stores.
 */
export class CommitGate {
  private readonly gates = new Map<Redis, ShardGate>();

  constructor(
    private readonly redis: Redis,
    private readonly options: CommitGateOptions,
  ) {}

  /**
   * Runs the commit once the gates of the shards it writes to admit it (`slotKeys`: a key in each
   * store's slot, asked only on a Cluster); a commit the replicas did not acknowledge closes them.
   */
  async commit(write: () => Promise<void>, slotKeys: () => readonly string[] = () => []): Promise<void> {
    const gates = await this.gatesFor(slotKeys);
    for (const gate of gates) await gate.admit();
    try {
      await write();
    } catch (error) {
      if (error instanceof HoldfastError && error.code === 'REDIS_REPLICAS_LAGGING') {
        for (const gate of gates) gate.close(error);
      }
      throw error;
    }
  }

  private async gatesFor(slotKeys: () => readonly string[]): Promise<ShardGate[]> {
    if (!isCluster(this.redis)) return [this.gateOf(this.redis)];
    const primaries = await Promise.all(slotKeys().map((key) => primaryForKey(this.redis, key)));
    return [...new Set(primaries)].map((primary) => this.gateOf(primary));
  }

  private gateOf(server: Redis): ShardGate {
    let gate = this.gates.get(server);
    if (!gate) {
      const shard = isCluster(this.redis) ? { shard: `${server.options.host ?? ''}:${server.options.port ?? ''}` } : {};
      gate = new ShardGate(server, this.options, shard);
      this.gates.set(server, gate);
    }
    return gate;
  }
}

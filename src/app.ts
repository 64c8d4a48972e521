// A Holdfast node: starts the roles it is asked for (policy always; intake, delivery, admin) in order, stops them all.
import type { Redis } from 'ioredis';
import type { Config } from './config/schema.js';
import type { Logger } from './observability/logger.js';
import { EVENTS } from './observability/events.js';
import { Metrics } from './observability/metrics.js';
import { createRedis, redisTarget } from './redis/connections.js';
import { checkTopology } from './redis/durability.js';
import { MemoryWatch } from './redis/memory-watch.js';
import { createKeys } from './queue/keys.js';
import { ensureKeyLayout } from './queue/layout.js';
import { Trace } from './repositories/trace.js';
import { RetainedMail } from './repositories/retained-copies.js';
import type { MailstoreAdmin } from './admin/mailstores.js';
import type { StoreAdmin } from './admin/stores.js';
import { TraceAdmin } from './admin/trace.js';
import type { MetricsJson } from './process/delivery-processes.js';
import type { NodeContext } from './wiring/context.js';
import { emptyParts, stopParts } from './wiring/parts.js';
import { checkDurability, embeddedRedisFor } from './wiring/redis.js';
import { startPolicy } from './wiring/policy.js';
import { startSweeper } from './wiring/sweeper.js';
import { startDelivery } from './wiring/delivery.js';
import { startIntake } from './wiring/intake.js';
import { startAdmin } from './wiring/admin.js';
import { systemClock } from './clock.js';

export interface AppOptions {
  /** Run the SMTP listener (default true). */
  intake?: boolean;
  /** Run the delivery workers (default true). */
  delivery?: boolean;
  /**
   * Probe stores (tripped ones, and an operator's `holdfast probe`) with mailstore clients of its
   * own (default: when it delivers). On for a main process whose delivery runs in other processes.
   */
  probes?: boolean;
  now?: () => number;
  random?: () => number;
  /** How often the policy check runs (default 2 s); tests shorten it. */
  policyIntervalMs?: number;
  /** Run the admin HTTP listener (default: the config's admin.enabled). */
  admin?: boolean;
  /** This node's delivery processes' counters and histograms, added to its own in /metrics. */
  otherProcesses?: () => Promise<MetricsJson[]>;
}

export class App {
  /** The port of the first SMTP listener (listeners[0], or listener). */
  smtpPort = 0;
  /** The port of every SMTP listener, in config order. */
  smtpPorts: number[] = [];
  adminPort = 0;
  /** Prometheus metrics of this node (served at /metrics on the admin listener). */
  readonly metrics: Metrics;
  /** Message trace lookups (by queue id, Message-ID, recipient); set once started. */
  traceAdmin: TraceAdmin | undefined;
  /** The retained copies of delivered mail (the safety net); set once started. */
  retained: RetainedMail | undefined;
  private readonly parts = emptyParts();
  private redisDurable = false;

  constructor(
    readonly config: Config,
    readonly logger: Logger,
    private readonly options: AppOptions = {},
  ) {
    this.metrics = new Metrics({
      stores: () => this.mailstoreAdmin?.status() ?? Promise.resolve([]),
      redisMemory: () => this.parts.memoryWatch?.lastReading,
      redisDurable: () => this.redisDurable,
      durabilityMode: config.redis.durability,
      now: options.now ?? systemClock,
      otherProcesses: options.otherProcesses,
    });
  }

  /** Operator operations on mailstores (hold, release, status); set once started. */
  get mailstoreAdmin(): MailstoreAdmin | undefined {
    return this.parts.mailstoreAdmin;
  }

  /** Operator changes of a store's live settings (move its mail, endpoints); set once started. */
  get storeAdmin(): StoreAdmin | undefined {
    return this.parts.storeAdmin;
  }

  /** The address the admin API listens on, once it does. */
  get adminAddress(): string | undefined {
    const address = this.parts.adminServer?.server.address();
    return typeof address === 'object' && address ? address.address : undefined;
  }

  /** Where the managed redis-server listens, when Holdfast runs its own. */
  get embeddedRedisUrl(): string | undefined {
    return this.parts.embedded?.location.url;
  }

  /** PID of the managed redis-server, when Holdfast runs its own. */
  get embeddedRedisPid(): number | undefined {
    return this.parts.embedded?.pid;
  }

  /** Starts everything, or stops what did start and rethrows. */
  async start(): Promise<void> {
    try {
      await this.startAll();
    } catch (error) {
      await this.stop().catch(() => undefined);
      throw error;
    }
  }

  /** SIGHUP: what a running node reads again without a restart (today: the listener's TLS certificate). */
  async reload(): Promise<void> {
    await Promise.all(this.parts.certificates.map((certificates) => certificates.reload('signal')));
  }

  /** Graceful: 421 to newcomers, in-flight transactions finish, workers finish their attempts. */
  async stop(): Promise<void> {
    this.logger.info({ event: EVENTS.stopping }, 'stopping');
    await stopParts(this.parts, this.config.shutdown.grace);
    this.logger.info({ event: EVENTS.stopped }, 'stopped');
  }

  private async startAll(): Promise<void> {
    const { config, logger, options, parts } = this;
    logger.info({ event: EVENTS.starting, mailstores: Object.keys(config.mailstores) }, 'starting');
    parts.embedded = embeddedRedisFor(config, logger);
    await parts.embedded?.start();
    const target = redisTarget(config, parts.embedded?.location.url);
    const timeout = config.limits.timeouts.enqueue;
    const control = this.track(createRedis(target, 'control', timeout));
    await checkTopology(control, 15_000);
    this.redisDurable = await checkDurability(control, config, logger);
    // Before any queue or worker of this node touches a store's keys.
    await ensureKeyLayout(control, createKeys(config.redis.prefix), {
      mailstores: Object.keys(config.mailstores),
      logger,
    });
    const context = this.context(control);
    // BullMQ defines its scripts (about 50) on the connections its queues use, and ioredis copies
    // them onto every pipeline made there: Holdfast's own bookkeeping gets a connection without them.
    const queueControl = this.track(createRedis(target, 'queues', timeout));
    const delivers = options.delivery !== false;
    // The order the roles start in: each takes what the earlier ones made (their types say which).
    const policy = await startPolicy(context, parts, queueControl, {
      probes: options.probes ?? delivers,
      intervalMs: options.policyIntervalMs,
    });
    startSweeper(context, parts);
    // Intake refuses mail above the high-water mark; delivery keeps no new copies a little below it.
    const memoryWatch = new MemoryWatch(control, config.limits.redisMemoryHighWater, logger);
    if (options.intake !== false || delivers) {
      parts.memoryWatch = memoryWatch;
      await memoryWatch.start();
    }
    if (delivers) startDelivery(context, parts, policy, memoryWatch, this.track(createRedis(target, 'worker', 0)));
    if (options.intake !== false) {
      const connection = this.track(createRedis(target, 'intake', timeout));
      this.smtpPorts = await startIntake(context, parts, policy, connection, {
        memoryWatch,
        onDurability: (durable) => {
          this.redisDurable = durable;
        },
      });
      this.smtpPort = this.smtpPorts[0]!;
    }
    if (options.admin ?? config.admin.enabled) {
      this.adminPort = await startAdmin(context, parts, policy, context.traceAdmin);
    }
    logger.info(
      { event: EVENTS.ready, smtpPort: this.smtpPort, smtpPorts: this.smtpPorts, adminPort: this.adminPort },
      'ready',
    );
  }

  /** The services every role shares; the trace's failures never stop mail, so they are only debug. */
  private context(control: Redis): NodeContext & { traceAdmin: TraceAdmin } {
    const { config, logger, options } = this;
    const keys = createKeys(config.redis.prefix);
    const timeout = config.limits.timeouts.enqueue;
    const trace = new Trace(control, keys, config.trace, {
      now: options.now,
      timeoutMs: timeout,
      onError: (error) => logger.debug({ event: EVENTS.traceNotRecorded, err: error }, 'trace not recorded'),
    });
    const traceAdmin = new TraceAdmin(trace);
    this.traceAdmin = traceAdmin;
    this.retained = new RetainedMail(control, keys, timeout);
    return {
      traceAdmin,
      config,
      logger,
      metrics: this.metrics,
      now: options.now ?? systemClock,
      random: options.random ?? Math.random,
      keys,
      control,
      trace,
      retained: this.retained,
      redisError: (error, mailstore) =>
        logger.debug({ event: EVENTS.redisUnavailable, err: error, mailstore }, 'redis connection error'),
    };
  }

  private track(connection: Redis): Redis {
    this.parts.connections.push(connection);
    return connection;
  }
}

// The one place where Holdfast is wired together: Redis, queues, SMTP intake and delivery workers.
import type { Redis } from 'ioredis';
import type { Config } from './config/schema.js';
import type { Logger } from './observability/logger.js';
import { EVENTS } from './observability/events.js';
import { EmbeddedRedis } from './redis/embedded.js';
import { createRedis, whenReady, redisTarget } from './redis/connections.js';
import { findDurabilityProblems, refuseRedisCluster } from './redis/durability.js';
import { MemoryWatch } from './redis/memory-watch.js';
import { CommitGate } from './redis/commit-gate.js';
import { HoldfastError, withTimeout } from './errors.js';
import { createKeys, type Keys } from './queue/keys.js';
import { MailQueues } from './queue/queues.js';
import { enqueueMessage } from './queue/enqueue.js';
import { IncomingBodies } from './queue/incoming.js';
import { Spool } from './queue/spool.js';
import { addMovedJob, moveQueuedMail } from './queue/move.js';
import { createConsumer } from './queue/consume.js';
import { Consumers } from './queue/consumers.js';
import { ConsumerWatchdog } from './queue/consumer-watchdog.js';
import { BacklogWatch } from './queue/backlog-watch.js';
import { OverridesCache, StoreOverridesRepository } from './queue/store-overrides.js';
import { StoreAdmin } from './admin/stores.js';
import { destinationOf } from './policy/store-move.js';
import type { FastifyInstance } from 'fastify';
import { createAdminServer, listenAdmin } from './admin/http/server.js';
import { redisReadiness } from './admin/http/health.js';
import { MessageAdmin } from './admin/messages.js';
import { RouteAdmin } from './admin/routes.js';
import { MessageControls } from './queue/message-controls.js';
import { Metrics } from './observability/metrics.js';
import { RouteTable } from './routing/route-table.js';
import { Router } from './routing/router.js';
import { SmtpListener } from './smtp/server.js';
import { ConnectionRate } from './smtp/connection-rate.js';
import { MailstoreClient } from './delivery/mailstore-client.js';
import { createDeliverer } from './delivery/deliver.js';
import { createBounceSender } from './delivery/bounce.js';
import { MailstoreControls } from './queue/mailstore-controls.js';
import { MailstoreAdmin, MailstoreAdminError } from './admin/mailstores.js';
import type { MailstoreCommand } from './policy/mailstore-state.js';
import { PolicyEnforcer } from './admin/policy-enforcer.js';
import { Trace } from './queue/trace.js';
import { TraceAdmin } from './admin/trace.js';
import { RetainedMail } from './queue/retention.js';
import { RetentionSweeper } from './queue/retention-sweeper.js';
import { createRetainer } from './delivery/retain.js';
import { retentionHasRoom } from './policy/retention.js';
import { ReplayAdmin } from './admin/replay.js';
import type { MetricsJson } from './process/delivery-processes.js';

/** While intake refuses mail because Redis cannot keep it, how long a check may take, and how often it runs. */
const GATE_PROBE_TIMEOUT_MS = 500;
const GATE_PROBE_INTERVAL_MS = 1000;

/**
 * QUIT when the connection is up (replies in flight still arrive). A connection waiting to
 * reconnect would hold QUIT in its offline queue until Redis is back: it is only disconnected.
 * disconnect() also closes what QUIT leaves open: the sentinel subscriptions of its failover detector.
 */
async function closeConnection(connection: Redis): Promise<void> {
  if (connection.status === 'ready') await withTimeout(connection.quit(), 2000, 'QUIT').catch(() => undefined);
  connection.disconnect();
}

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
  smtpPort = 0;
  adminPort = 0;
  private redisDurable = false;

  /** The address the admin API listens on, once it does. */
  get adminAddress(): string | undefined {
    const address = this.adminServer?.server.address();
    return typeof address === 'object' && address ? address.address : undefined;
  }
  /** Prometheus metrics of this node (served at /metrics on the admin listener). */
  readonly metrics: Metrics;
  private adminServer: FastifyInstance | undefined;
  private embedded: EmbeddedRedis | undefined;
  private connections: Redis[] = [];
  private intakeQueues: MailQueues | undefined;
  private workerQueues: MailQueues | undefined;
  private consumers: Consumers | undefined;
  private watchdog: ConsumerWatchdog | undefined;
  private clients = new Map<string, MailstoreClient>();
  private listener: SmtpListener | undefined;
  private memoryWatch: MemoryWatch | undefined;
  private backlogWatch: BacklogWatch | undefined;
  private closeBounces: (() => void) | undefined;
  private controlQueues: MailQueues | undefined;
  private enforcer: PolicyEnforcer | undefined;
  private controls: MailstoreControls | undefined;
  /** Operator operations on mailstores (hold, release, status); set once started. */
  mailstoreAdmin: MailstoreAdmin | undefined;
  /** Operator changes of a store's live settings (move its mail, endpoints); set once started. */
  storeAdmin: StoreAdmin | undefined;
  private overrides: OverridesCache | undefined;
  private trace: Trace | undefined;
  /** Message trace lookups (by queue id, Message-ID, recipient); set once started. */
  traceAdmin: TraceAdmin | undefined;
  /** The retained copies of delivered mail (the safety net); set once started. */
  retained: RetainedMail | undefined;
  private sweeper: RetentionSweeper | undefined;

  constructor(
    readonly config: Config,
    readonly logger: Logger,
    private readonly options: AppOptions = {},
  ) {
    this.metrics = new Metrics({
      stores: () => this.mailstoreAdmin?.status() ?? Promise.resolve([]),
      redisMemory: () => this.memoryWatch?.lastReading,
      redisDurable: () => this.redisDurable,
      durabilityMode: config.redis.durability,
      now: options.now ?? Date.now,
      otherProcesses: options.otherProcesses,
    });
  }

  /** Where the managed redis-server listens, when Holdfast runs its own. */
  get embeddedRedisUrl(): string | undefined {
    return this.embedded?.location.url;
  }

  /** PID of the managed redis-server, when Holdfast runs its own. */
  get embeddedRedisPid(): number | undefined {
    return this.embedded?.pid;
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

  private async startAll(): Promise<void> {
    const { config, logger } = this;
    logger.info({ event: EVENTS.starting, mailstores: Object.keys(config.mailstores) }, 'starting');
    const embeddedUrl = await this.startEmbeddedRedisIfNeeded();
    const target = redisTarget(config, embeddedUrl);
    const enqueueTimeout = config.limits.timeouts.enqueue;
    const control = this.track(createRedis(target, 'control', enqueueTimeout));
    await refuseRedisCluster(control);
    await this.checkDurability(control);
    const keys = createKeys(config.redis.prefix);
    const mailstores = Object.keys(config.mailstores);
    this.startTrace(control, keys);
    this.retained = new RetainedMail(control, keys, enqueueTimeout);
    // BullMQ defines its scripts (about 50) on the connections its queues use, and ioredis copies
    // them onto every pipeline made there: Holdfast's own bookkeeping gets a connection without them.
    const queueControl = this.track(createRedis(target, 'queues', enqueueTimeout));
    await this.startPolicy(control, queueControl, keys, mailstores);
    this.startSweeper(mailstores);
    if (this.options.intake !== false || this.options.delivery !== false) {
      // Intake refuses mail above the high-water mark; delivery keeps no new copies a little below it.
      this.memoryWatch = new MemoryWatch(control, config.limits.redisMemoryHighWater, logger);
      await this.memoryWatch.start();
    }
    if (this.options.delivery !== false) {
      const workerConnection = this.track(createRedis(target, 'worker', 0));
      this.workerQueues = new MailQueues(workerConnection, keys, mailstores, this.redisError);
      this.startWorkers(workerConnection, control, keys);
    }
    if (this.options.intake !== false) {
      const intake = this.track(createRedis(target, 'intake', enqueueTimeout));
      await whenReady(intake, enqueueTimeout);
      this.intakeQueues = new MailQueues(intake, keys, mailstores, this.redisError);
      const limits = Object.fromEntries(
        Object.entries(config.mailstores).map(([id, store]) => [id, store.backlogLimit]),
      );
      this.backlogWatch = new BacklogWatch(this.controls!.backlogs, limits, logger, this.options.now ?? Date.now);
      await this.backlogWatch.start();
      await this.startListener(intake, keys);
    }
    if (this.options.admin ?? config.admin.enabled) await this.startAdmin(control, keys);
    logger.info({ event: EVENTS.ready, smtpPort: this.smtpPort, adminPort: this.adminPort }, 'ready');
  }

  /** Graceful: 421 to newcomers, in-flight transactions finish, workers finish their attempts. */
  async stop(): Promise<void> {
    this.logger.info({ event: EVENTS.stopping }, 'stopping');
    await this.adminServer?.close();
    await this.listener?.drain(this.config.shutdown.grace);
    await this.watchdog?.stop();
    await this.consumers?.close(this.config.shutdown.grace);
    for (const client of this.clients.values()) client.close();
    this.closeBounces?.();
    this.memoryWatch?.stop();
    await this.sweeper?.stop();
    this.overrides?.stop();
    this.backlogWatch?.stop();
    await this.enforcer?.stop();
    await this.controlQueues?.close();
    await this.intakeQueues?.close();
    await this.workerQueues?.close();
    await Promise.all(this.connections.map(closeConnection));
    await this.embedded?.stop();
    this.logger.info({ event: EVENTS.stopped }, 'stopped');
  }

  /** A state change Holdfast makes by itself: another node or an operator may have been first, which is enough. */
  private async automaticCommand(mailstore: string, command: MailstoreCommand): Promise<void> {
    const applied = await this.mailstoreAdmin!.command(mailstore, command).then(
      () => true,
      (error: unknown) => {
        if (!(error instanceof MailstoreAdminError)) throw error;
        return false;
      },
    );
    if (applied && (command.kind === 'trip' || command.kind === 'guard'))
      this.metrics.automaticStop(mailstore, command.kind);
  }

  /** The trace writes on the control connection; its failures never stop mail, so they are only debug. */
  private startTrace(control: Redis, keys: Keys): void {
    this.trace = new Trace(control, keys, this.config.trace, {
      now: this.options.now,
      timeoutMs: this.config.limits.timeouts.enqueue,
      onError: (error) => this.logger.debug({ event: EVENTS.traceNotRecorded, err: error }, 'trace not recorded'),
    });
    this.traceAdmin = new TraceAdmin(this.trace);
  }

  /** Mailstore states are enforced before any worker starts taking jobs. */
  private async startPolicy(control: Redis, queueControl: Redis, keys: Keys, mailstores: string[]): Promise<void> {
    const now = this.options.now ?? Date.now;
    this.controlQueues = new MailQueues(queueControl, keys, mailstores, this.redisError);
    const openRate = (mailstore: string) => this.config.mailstores[mailstore]?.rate ?? 0;
    const timeout = this.config.limits.timeouts.enqueue;
    const controls = new MailstoreControls(control, keys, this.controlQueues, timeout, openRate);
    this.controls = controls;
    const overrides = new StoreOverridesRepository(control, keys, mailstores, timeout);
    this.mailstoreAdmin = new MailstoreAdmin(this.config, controls, this.logger, now, overrides, this.retained);
    this.overrides = new OverridesCache(overrides, (mailstore, changed) =>
      this.clients.get(mailstore)?.useEndpoints(changed.endpoints),
    );
    await this.overrides.start();
    if (this.probes) this.createClients();
    this.storeAdmin = new StoreAdmin(this.config, overrides, controls, this.logger, now);
    const spool = new Spool(control, keys, timeout);
    this.enforcer = new PolicyEnforcer({
      mailstores,
      controls,
      admin: this.mailstoreAdmin,
      logger: this.logger,
      now,
      // Only nodes with mailstore clients (delivering, or a main process with delivery processes) probe.
      probe: async (mailstore) => (await this.clients.get(mailstore)?.probe()) ?? false,
      canProbe: this.probes,
      maxProbeIntervalMs: (mailstore) => this.config.mailstores[mailstore]!.trip.maxProbeInterval,
      moveMail: async (from) => {
        const to = this.overrides!.overrides.get(from)?.movedTo;
        if (to === undefined) return;
        const moved = await moveQueuedMail(this.controlQueues!, spool, control, { from, to }, timeout, {
          trace: this.trace,
          pausedIntervals: () => controls.pausedIntervals(from, now()),
        });
        if (moved > 0)
          this.logger.info({ event: EVENTS.storeMailMoved, mailstore: from, to, jobs: moved }, 'moved mail');
      },
      intervalMs: this.options.policyIntervalMs,
    });
    await this.enforcer.start();
  }

  /** Every node trims every store's retained copies each minute (each trim is atomic: nodes agree). */
  private startSweeper(mailstores: string[]): void {
    this.sweeper = new RetentionSweeper({
      retained: this.retained!,
      mailstores,
      settings: this.retentionSettings,
      now: this.options.now ?? Date.now,
      onDropped: (mailstore, dropped) => {
        this.metrics.discarded(mailstore, 'expired', dropped.expired);
        this.metrics.discarded(mailstore, 'budget', dropped.budget);
      },
      onError: (error, mailstore) =>
        this.logger.warn({ event: EVENTS.redisUnavailable, err: error, mailstore }, 'cannot sweep retained copies'),
    });
    this.sweeper.start();
  }

  private readonly retentionSettings = (mailstore: string) => this.config.mailstores[mailstore]!.retention;

  /** Where mail for a store goes now: the store, or where an operator moved its mail (this node's copy). */
  private readonly destination = (mailstore: string) => destinationOf(mailstore, this.overrides!.overrides);

  /** The admin API (and later metrics and the status page) on its own listener, over the same services as the CLI. */
  private async startAdmin(control: Redis, keys: Keys): Promise<void> {
    const { config, logger } = this;
    const now = this.options.now ?? Date.now;
    const timeout = config.limits.timeouts.enqueue;
    const spool = new Spool(control, keys, timeout);
    const messages = new MessageControls(this.controlQueues!, spool, control, timeout);
    const replayAdmin = new ReplayAdmin({
      config,
      retained: this.retained!,
      queues: this.controlQueues!,
      mailstoreAdmin: this.mailstoreAdmin!,
      controls: this.controls!,
      enqueueOptions: {
        timeoutMs: timeout,
        replicas: config.redis.replicas,
        replicaTimeoutMs: config.redis.replicaTimeout,
        compression: config.redis.bodyCompression,
      },
      logger,
      now,
      trace: this.trace,
      metrics: this.metrics,
    });
    this.adminServer = createAdminServer({
      config,
      logger: logger.child({ component: 'admin' }),
      now,
      mailstoreAdmin: this.mailstoreAdmin!,
      storeAdmin: this.storeAdmin!,
      replayAdmin,
      messageAdmin: new MessageAdmin(config, messages, this.controls!, logger, now, this.trace),
      traceAdmin: this.traceAdmin!,
      routeAdmin: new RouteAdmin(config, new RouteTable(control, keys, timeout)),
      probe: (mailstore) => this.enforcer!.probeNow(mailstore),
      redisConnected: () => control.status === 'ready',
      metrics: this.metrics,
      ready: () => redisReadiness(control, config.redis.durability, this.embedded !== undefined),
    });
    this.adminPort = await listenAdmin(this.adminServer, config, logger);
  }

  private readonly redisError = (error: Error, mailstore: string) =>
    this.logger.debug({ event: EVENTS.redisUnavailable, err: error, mailstore }, 'redis connection error');

  private track(connection: Redis): Redis {
    this.connections.push(connection);
    return connection;
  }

  private async startEmbeddedRedisIfNeeded(): Promise<string | undefined> {
    const { redis } = this.config;
    if (redis.url || redis.sentinels) return undefined;
    this.embedded = new EmbeddedRedis({
      dir: redis.embedded.dir,
      binary: redis.embedded.binary,
      maxmemory: redis.embedded.maxmemory,
      logger: this.logger,
    });
    await this.embedded.start();
    return this.embedded.location.url;
  }

  private async checkDurability(control: Redis): Promise<void> {
    const problems = await findDurabilityProblems(control);
    this.redisDurable = problems.length === 0;
    if (problems.length === 0) return;
    if (this.config.redis.durability === 'strict') {
      throw new HoldfastError(
        'REDIS_NOT_DURABLE',
        `${problems.join('; ')} (set redis.durability: relaxed to run anyway)`,
      );
    }
    this.logger.warn(
      { event: EVENTS.redisNotDurable, problems },
      'redis is not durable: acknowledged mail can be lost',
    );
  }

  private get probes(): boolean {
    return this.options.probes ?? this.options.delivery !== false;
  }

  /** One client per store, for deliveries and probes (endpoints as an operator may have changed them). */
  private createClients(): void {
    if (this.clients.size > 0) return;
    for (const [id, store] of Object.entries(this.config.mailstores)) {
      const client = new MailstoreClient(id, store, this.config.listener.hostname);
      client.useEndpoints(this.overrides!.overrides.get(id)?.endpoints);
      this.clients.set(id, client);
    }
  }

  private startWorkers(connection: Redis, control: Redis, keys: Keys): void {
    const { config, logger } = this;
    const spool = new Spool(control, keys, config.limits.timeouts.enqueue);
    const bounceSender = createBounceSender(config);
    this.closeBounces = () => bounceSender?.close();
    this.createClients();
    const router = new Router(config, new RouteTable(control, keys, config.limits.timeouts.enqueue), this.destination);
    const deliver = createDeliverer({
      config,
      logger,
      clients: this.clients,
      bounceSender,
      now: this.options.now ?? Date.now,
      random: this.options.random ?? Math.random,
      pausedIntervals: (mailstore, now) => this.controls!.pausedIntervals(mailstore, now),
      recordTrace: (events, messageId) => void this.trace!.record(events, messageId),
      guardSettings: (mailstore) => {
        const { enabled, threshold, ratio, window } = config.mailstores[mailstore]!.guard;
        return { enabled, threshold, ratio, windowMs: window };
      },
      guardEpisodes: (mailstore) => this.controls!.guardEpisodes(mailstore),
      resolve: (recipient) => router.resolve(recipient),
      moveRecipients: async (job, mailstore, recipients) => {
        const sourcePauses = await this.controls!.pausedIntervals(job.mailstore, (this.options.now ?? Date.now)());
        return addMovedJob(this.controlQueues!, job, mailstore, recipients, config.limits.timeouts.enqueue, {
          sourcePauses,
        });
      },
      tripSettings: (mailstore) => {
        const { enabled, failures, probeInterval } = config.mailstores[mailstore]!.trip;
        return { enabled, failures, probeIntervalMs: probeInterval };
      },
      recordHealth: (mailstore, healthy, error) => this.controls!.recordHealth(mailstore, healthy, error),
      trip: (mailstore, reason, probeIntervalMs) =>
        this.automaticCommand(mailstore, { kind: 'trip', reason, probeIntervalMs }),
      recordOutcomes: (mailstore, outcomes, now, windowMs) =>
        this.controls!.recordOutcomes(mailstore, outcomes, now, windowMs),
      guard: (mailstore, reason) => this.automaticCommand(mailstore, { kind: 'guard', reason }),
      metrics: this.metrics,
      retain: createRetainer({
        retained: this.retained!,
        settings: this.retentionSettings,
        hasRoom: () => retentionHasRoom(this.memoryWatch?.lastReading, config.limits.redisMemoryHighWater),
        now: this.options.now ?? Date.now,
        logger,
        metrics: this.metrics,
      }),
    });
    this.consumers = new Consumers(Object.keys(config.mailstores), (id, activity) =>
      createConsumer(id, {
        connection,
        keys,
        spool,
        concurrency: config.mailstores[id]!.concurrency,
        lockDuration: config.workers.lockDuration,
        stalledInterval: config.workers.stalledInterval,
        deliver,
        activity,
        now: this.options.now ?? Date.now,
        onMissingBody: (data) =>
          logger.error({ event: EVENTS.jobError, queueId: data.queueId, mailstore: id }, 'message body missing'),
        onError: (error, data) =>
          logger.error({ event: EVENTS.jobError, err: error, queueId: data?.queueId, mailstore: id }, 'worker error'),
      }),
    );
    this.watchdog = new ConsumerWatchdog({
      queue: (mailstore) => this.controlQueues!.get(mailstore),
      consumers: this.consumers,
      mailstores: Object.keys(config.mailstores),
      intervalMs: config.workers.watchdogInterval,
      logger,
    });
    this.watchdog.start();
  }

  private async startListener(intake: Redis, keys: Keys): Promise<void> {
    const { config, logger } = this;
    const queues = this.intakeQueues!;
    const memoryWatch = this.memoryWatch!;
    const router = new Router(config, new RouteTable(intake, keys, config.limits.timeouts.enqueue), this.destination);
    const enqueueOptions = {
      timeoutMs: config.limits.timeouts.enqueue,
      replicas: config.redis.replicas,
      replicaTimeoutMs: config.redis.replicaTimeout,
      trace: this.trace,
      compression: config.redis.bodyCompression,
    };
    const incoming = new IncomingBodies(intake, keys, config.limits.timeouts.enqueue);
    const gate = new CommitGate(intake, {
      durability: config.redis.durability,
      replicas: config.redis.replicas,
      probeTimeoutMs: Math.min(config.redis.replicaTimeout, GATE_PROBE_TIMEOUT_MS),
      probeIntervalMs: GATE_PROBE_INTERVAL_MS,
      logger,
      // Wall-clock pacing of the checks, not message time: not the injectable clock.
      now: Date.now,
      onDurability: (durable) => {
        this.redisDurable = durable;
      },
    });
    this.listener = new SmtpListener({
      config,
      logger: logger.child({ component: 'smtp' }),
      router,
      enqueue: (message) => gate.commit(() => enqueueMessage(queues, message, enqueueOptions)),
      incoming: (queueId) => ({
        append: (chunk) => incoming.append(queueId, chunk),
        discard: () => incoming.discard(queueId),
      }),
      storageFull: () => memoryWatch.aboveHighWater,
      countReply: (stage, code) => this.metrics.smtpReply(stage, code),
      mailstoreFull: (mailstore) => this.backlogWatch?.isOver(mailstore) ?? false,
      now: this.options.now ?? Date.now,
      draining: false,
      transactions: new Map(),
      connectionsByAddress: new Map(),
      openConnections: 0,
      connectionRate: new ConnectionRate(config.limits.connections.ratePerIp, this.options.now ?? Date.now),
      inFlight: 0,
    });
    this.smtpPort = await this.listener.listen();
  }
}

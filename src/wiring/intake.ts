// SMTP intake on a node: the listener, the commit gate in front of every enqueue, and the backlog limits.
import type { Redis } from 'ioredis';
import { whenReady } from '../redis/connections.js';
import { CommitGate } from '../redis/commit-gate.js';
import { enqueueMessage } from '../queue/enqueue.js';
import { IncomingBodies } from '../queue/incoming.js';
import { BacklogWatch } from '../loops/backlog-watch.js';
import { RouteTable } from '../routing/route-table.js';
import { Router } from '../routing/router.js';
import { SmtpListener } from '../smtp/server.js';
import type { SmtpContext } from '../smtp/context.js';
import { listenerAddresses } from '../config/schema.js';
import { ClientRate } from '../smtp/client-rate.js';
import { CertificateReloader } from '../smtp/certificates.js';
import { redisTimeout, type NodeContext } from './context.js';
import type { Parts } from './parts.js';
import { destination, type PolicyPlane } from './policy.js';
import type { MemoryWatch } from '../redis/memory-watch.js';
import { wallClock } from '../clock.js';

/** While intake refuses mail because Redis cannot keep it, how long a check may take, and how often it runs. */
const GATE_PROBE_TIMEOUT_MS = 500;
const GATE_PROBE_INTERVAL_MS = 1000;

export interface IntakeOptions {
  /** Whether Redis has room: intake refuses mail (452) above its high-water mark. */
  memoryWatch: MemoryWatch;
  /** Told whenever the commit gate finds Redis durable again, or not. */
  onDurability: (durable: boolean) => void;
}

/** Starts the SMTP listeners on intake's own connection; resolves to the ports they listen on, in config order. */
export async function startIntake(
  context: NodeContext,
  parts: Parts,
  policy: PolicyPlane,
  connection: Redis,
  options: IntakeOptions,
): Promise<number[]> {
  const { config, logger, keys, now } = context;
  const timeout = redisTimeout(context);
  await whenReady(connection, timeout);
  // The queues' objects live on the policy's connection: BullMQ would define its scripts on
  // intake's, and ioredis copy them onto every commit (internals/bullmq-commit.ts).
  const queues = policy.controlQueues;
  const limits = Object.fromEntries(Object.entries(config.mailstores).map(([id, store]) => [id, store.backlogLimit]));
  const backlogWatch = new BacklogWatch(policy.controls.backlogs, limits, logger, now);
  parts.backlogWatch = backlogWatch;
  await backlogWatch.start();
  const { memoryWatch } = options;
  const router = new Router(config, new RouteTable(connection, keys, timeout), destination(policy));
  const enqueueOptions = {
    timeoutMs: timeout,
    replicas: config.redis.replicas,
    replicaTimeoutMs: config.redis.replicaTimeout,
    trace: context.trace,
    compression: config.redis.bodyCompression,
    connection,
  };
  const incoming = new IncomingBodies(connection, keys, timeout);
  const gate = new CommitGate(connection, {
    durability: config.redis.durability,
    replicas: config.redis.replicas,
    probeTimeoutMs: Math.min(config.redis.replicaTimeout, GATE_PROBE_TIMEOUT_MS),
    probeIntervalMs: GATE_PROBE_INTERVAL_MS,
    logger,
    // Wall-clock pacing of the checks, not message time: not the injectable clock.
    now: wallClock,
    onDurability: options.onDurability,
  });
  const smtp: SmtpContext = {
    config,
    logger: logger.child({ component: 'smtp' }),
    router,
    enqueue: (message) =>
      gate.commit(
        () => enqueueMessage(queues, message, enqueueOptions),
        () => [...message.recipientsByMailstore.keys()].map((mailstore) => keys.mailstoreBacklog(mailstore)),
      ),
    incoming: (queueId, mailstores) => ({
      append: (chunk) => incoming.append(queueId, mailstores, chunk),
      discard: () => incoming.discard(queueId, mailstores),
    }),
    storageFull: () => memoryWatch.aboveHighWater,
    countReply: (stage, code) => context.metrics.smtpReply(stage, code),
    mailstoreFull: (mailstore) => backlogWatch.isOver(mailstore),
    now,
    draining: false,
    connectionsByAddress: new Map(),
    openConnections: 0,
    connectionRate: new ClientRate(config.limits.connections.ratePerIp, now),
    messageRate: new ClientRate(config.limits.connections.messageRatePerIp, now),
    recipientRate: new ClientRate(config.limits.connections.recipientRatePerIp, now),
    inFlight: 0,
  };
  // Every address gets a listener of its own (its certificate, its PROXY setting); the limits and
  // counts of the context are the node's, shared by all of them.
  const ports: number[] = [];
  for (const address of listenerAddresses(config)) {
    const { tls } = address;
    const certificates = tls
      ? new CertificateReloader(
          { key: tls.key, cert: tls.cert },
          (pair) => listener.useCertificate(pair),
          logger.child({ component: 'smtp' }),
          tls.checkInterval,
        )
      : undefined;
    // Before the listener reads the files: a renewal between the two is seen.
    await certificates?.snapshot();
    const listener = new SmtpListener(smtp, address);
    parts.listeners.push(listener);
    ports.push(await listener.listen());
    if (certificates) {
      parts.certificates.push(certificates);
      await certificates.start();
    }
  }
  return ports;
}

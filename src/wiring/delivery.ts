// Delivery on a node: one BullMQ consumer per store, each job handed to the deliverer, watched by the watchdog.
import type { Redis } from 'ioredis';
import { EVENTS } from '../observability/events.js';
import { MailQueues } from '../queue/queues.js';
import { Spool } from '../queue/spool.js';
import { addMovedJob } from '../queue/move.js';
import { createConsumer } from '../queue/consume.js';
import { Consumers } from '../queue/consumers.js';
import { ConsumerWatchdog } from '../loops/consumer-watchdog.js';
import { RouteTable } from '../routing/route-table.js';
import { Router } from '../routing/router.js';
import { createDeliverer } from '../delivery/deliver.js';
import { createBounceSender } from '../delivery/dsn-sender.js';
import { createRetainer } from '../delivery/retain.js';
import { retentionHasRoom } from '../policy/retention.js';
import { redisTimeout, type NodeContext } from './context.js';
import type { Parts } from './parts.js';
import type { MemoryWatch } from '../redis/memory-watch.js';
import { automaticCommand, createClients, destination, type PolicyPlane } from './policy.js';

/** Starts delivery on its own connection (blocking job fetches do not queue behind other commands). */
export function startDelivery(
  context: NodeContext,
  parts: Parts,
  policy: PolicyPlane,
  memoryWatch: MemoryWatch,
  connection: Redis,
): void {
  const { config, logger, keys } = context;
  const mailstores = Object.keys(config.mailstores);
  parts.workerQueues = new MailQueues(connection, keys, mailstores, context.redisError);
  const bounceSender = createBounceSender(config);
  parts.closeBounces = () => bounceSender?.close();
  createClients(context, parts, policy.overrides);
  const deliver = deliverer(context, parts, policy, memoryWatch, bounceSender);
  const spool = new Spool(context.control, keys, redisTimeout(context));
  const consumers = new Consumers(mailstores, (id, activity) =>
    createConsumer(id, {
      connection,
      keys,
      spool,
      concurrency: config.mailstores[id]!.concurrency,
      lockDuration: config.workers.lockDuration,
      stalledInterval: config.workers.stalledInterval,
      deliver,
      activity,
      now: context.now,
      onMissingBody: (data) =>
        logger.error({ event: EVENTS.jobError, queueId: data.queueId, mailstore: id }, 'message body missing'),
      onError: (error, data) =>
        logger.error({ event: EVENTS.jobError, err: error, queueId: data?.queueId, mailstore: id }, 'worker error'),
    }),
  );
  parts.consumers = consumers;
  parts.watchdog = new ConsumerWatchdog({
    queue: (mailstore) => policy.controlQueues.get(mailstore),
    consumers,
    mailstores,
    intervalMs: config.workers.watchdogInterval,
    logger,
  });
  parts.watchdog.start();
}

/** The deliverer with everything it decides with and reports to: this node's clients, controls, trace and metrics. */
function deliverer(
  context: NodeContext,
  parts: Parts,
  policy: PolicyPlane,
  memoryWatch: MemoryWatch,
  bounceSender: ReturnType<typeof createBounceSender>,
) {
  const { config, logger, now, metrics } = context;
  const timeout = redisTimeout(context);
  const { controls } = policy;
  const router = new Router(config, new RouteTable(context.control, context.keys, timeout), destination(policy));
  return createDeliverer({
    config,
    logger,
    clients: parts.clients,
    bounceSender,
    now,
    random: context.random,
    pausedIntervals: (mailstore, at) => controls.pausedIntervals(mailstore, at),
    recordTrace: (events, messageId, receivedAt) => void context.trace.record(events, messageId, receivedAt),
    guardSettings: (mailstore) => {
      const { enabled, threshold, ratio, window } = config.mailstores[mailstore]!.guard;
      return { enabled, threshold, ratio, windowMs: window };
    },
    guardEpisodes: (mailstore) => controls.guardEpisodes(mailstore),
    resolve: (recipient) => router.resolve(recipient),
    moveRecipients: async (job, jobId, mailstore, recipients) => {
      const sourcePauses = await controls.pausedIntervals(job.mailstore, now());
      return addMovedJob(policy.controlQueues, job, jobId, mailstore, recipients, timeout, { sourcePauses });
    },
    tripSettings: (mailstore) => {
      const { enabled, failures, probeInterval } = config.mailstores[mailstore]!.trip;
      return { enabled, failures, probeIntervalMs: probeInterval };
    },
    recordHealth: (mailstore, healthy, error) => controls.recordHealth(mailstore, healthy, error),
    trip: (mailstore, reason, probeIntervalMs) =>
      automaticCommand(context, policy, mailstore, { kind: 'trip', reason, probeIntervalMs }),
    recordOutcomes: (mailstore, outcomes, at, windowMs) => controls.recordOutcomes(mailstore, outcomes, at, windowMs),
    guard: (mailstore, reason) => automaticCommand(context, policy, mailstore, { kind: 'guard', reason }),
    metrics,
    retain: createRetainer({
      retained: context.retained,
      settings: (mailstore) => config.mailstores[mailstore]!.retention,
      hasRoom: () => retentionHasRoom(memoryWatch.lastReading, config.limits.redisMemoryHighWater),
      now,
      logger,
      metrics,
    }),
  });
}

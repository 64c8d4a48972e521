// The admin listener: the HTTP API, metrics and status page, over the same services as the CLI.
import { createAdminServer, listenAdmin } from '../admin/http/server.js';
import { redisReadiness } from '../admin/http/health.js';
import { MessageAdmin } from '../admin/messages.js';
import { RouteAdmin } from '../admin/routes.js';
import { ReplayAdmin } from '../admin/replay.js';
import type { TraceAdmin } from '../admin/trace.js';
import { MessageControls } from '../queue/message-controls.js';
import { Spool } from '../queue/spool.js';
import { RouteTable } from '../routing/route-table.js';
import { redisTimeout, type NodeContext } from './context.js';
import type { Parts } from './parts.js';
import type { PolicyPlane } from './policy.js';

/** Starts the admin listener; resolves to its port. */
export async function startAdmin(
  context: NodeContext,
  parts: Parts,
  policy: PolicyPlane,
  traceAdmin: TraceAdmin,
): Promise<number> {
  const { config, logger, control, keys, now, trace, metrics } = context;
  const timeout = redisTimeout(context);
  const messages = new MessageControls(policy.controlQueues, new Spool(control, keys, timeout), control, timeout);
  const replayAdmin = new ReplayAdmin({
    config,
    retained: context.retained,
    queues: policy.controlQueues,
    mailstoreAdmin: policy.mailstoreAdmin,
    controls: policy.controls,
    enqueueOptions: {
      timeoutMs: timeout,
      replicas: config.redis.replicas,
      replicaTimeoutMs: config.redis.replicaTimeout,
      compression: config.redis.bodyCompression,
    },
    logger,
    now,
    trace,
    metrics,
  });
  parts.adminServer = createAdminServer({
    config,
    logger: logger.child({ component: 'admin' }),
    now,
    mailstoreAdmin: policy.mailstoreAdmin,
    storeAdmin: policy.storeAdmin,
    replayAdmin,
    messageAdmin: new MessageAdmin(config, messages, policy.controls, logger, now, trace),
    traceAdmin,
    routeAdmin: new RouteAdmin(config, new RouteTable(control, keys, timeout)),
    probe: (mailstore) => policy.enforcer.probeNow(mailstore),
    redisConnected: () => control.status === 'ready',
    metrics,
    ready: () => redisReadiness(control, config.redis.durability, parts.embedded !== undefined),
  });
  return listenAdmin(parts.adminServer, config, logger);
}

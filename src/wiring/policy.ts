// The control plane every node runs: mailstore states and their enforcement, store overrides, mailstore clients.
import { isRefusal } from '../errors.js';
import type { Redis } from 'ioredis';
import { EVENTS } from '../observability/events.js';
import { MailQueues } from '../queue/queues.js';
import { Spool } from '../queue/spool.js';
import { moveQueuedMail } from '../queue/move.js';
import { MailstoreControls } from '../repositories/mailstore-controls.js';
import { OverridesCache, StoreOverridesRepository } from '../repositories/store-overrides.js';
import { StoreAdmin } from '../admin/stores.js';
import { MailstoreAdmin } from '../admin/mailstores.js';
import { PolicyEnforcer } from '../loops/policy-enforcer.js';
import type { MailstoreCommand } from '../policy/mailstore-state.js';
import { destinationOf } from '../policy/store-move.js';
import { MailstoreClient } from '../delivery/mailstore-client.js';
import { redisTimeout, type NodeContext } from './context.js';
import type { Parts } from './parts.js';

/**
 * What the policy plane started. The roles that start after it (delivery, intake, admin) take it as
 * an argument: the order they start in is in their types, not in fields that happen to be set.
 */
export interface PolicyPlane {
  controlQueues: MailQueues;
  controls: MailstoreControls;
  overrides: OverridesCache;
  mailstoreAdmin: MailstoreAdmin;
  storeAdmin: StoreAdmin;
  enforcer: PolicyEnforcer;
}

export interface PolicyOptions {
  /** Whether this node probes stores (it has mailstore clients). */
  probes: boolean;
  /** How often the policy check runs (default 2 s). */
  intervalMs?: number;
}

/** Mailstore states are enforced before any worker starts taking jobs: this runs before delivery starts. */
export async function startPolicy(
  context: NodeContext,
  parts: Parts,
  queueControl: Redis,
  options: PolicyOptions,
): Promise<PolicyPlane> {
  const { config, logger, control, keys, now } = context;
  const mailstores = Object.keys(config.mailstores);
  const timeout = redisTimeout(context);
  const queues = new MailQueues(queueControl, keys, mailstores, context.redisError);
  parts.controlQueues = queues;
  const openRate = (mailstore: string) => config.mailstores[mailstore]?.rate ?? 0;
  const controls = new MailstoreControls(control, keys, queues, timeout, openRate);
  parts.controls = controls;
  const repository = new StoreOverridesRepository(control, keys, mailstores, timeout);
  const mailstoreAdmin = new MailstoreAdmin(config, controls, logger, now, repository, context.retained);
  parts.mailstoreAdmin = mailstoreAdmin;
  const overrides = new OverridesCache(repository, (mailstore, changed) =>
    parts.clients.get(mailstore)?.useEndpoints(changed.endpoints),
  );
  parts.overrides = overrides;
  await overrides.start();
  if (options.probes) createClients(context, parts, overrides);
  const storeAdmin = new StoreAdmin(config, repository, controls, logger, now);
  parts.storeAdmin = storeAdmin;
  const spool = new Spool(control, keys, timeout);
  const enforcer = new PolicyEnforcer({
    mailstores,
    controls,
    admin: mailstoreAdmin,
    logger,
    now,
    // Only nodes with mailstore clients (delivering, or a main process with delivery processes) probe.
    probe: async (mailstore) => (await parts.clients.get(mailstore)?.probe()) ?? false,
    canProbe: options.probes,
    maxProbeIntervalMs: (mailstore) => config.mailstores[mailstore]!.trip.maxProbeInterval,
    moveMail: async (from) => {
      const to = overrides.overrides.get(from)?.movedTo;
      if (to === undefined) return;
      const moved = await moveQueuedMail(queues, spool, control, { from, to }, timeout, {
        trace: context.trace,
        pausedIntervals: () => controls.pausedIntervals(from, now()),
      });
      if (moved > 0) logger.info({ event: EVENTS.storeMailMoved, mailstore: from, to, jobs: moved }, 'moved mail');
    },
    intervalMs: options.intervalMs,
  });
  parts.enforcer = enforcer;
  await enforcer.start();
  return { controlQueues: queues, controls, overrides, mailstoreAdmin, storeAdmin, enforcer };
}

/** One client per store, for deliveries and probes (endpoints as an operator may have changed them). */
export function createClients(context: NodeContext, parts: Parts, overrides: OverridesCache): void {
  if (parts.clients.size > 0) return;
  for (const [id, store] of Object.entries(context.config.mailstores)) {
    const client = new MailstoreClient(id, store, context.config.listener.hostname);
    client.useEndpoints(overrides.overrides.get(id)?.endpoints);
    parts.clients.set(id, client);
  }
}

/** Where mail for a store goes now: the store, or where an operator moved its mail (this node's copy). */
export function destination(policy: PolicyPlane): (mailstore: string) => string {
  return (mailstore) => destinationOf(mailstore, policy.overrides.overrides);
}

/** A state change Holdfast makes by itself: another node or an operator may have been first, which is enough. */
export async function automaticCommand(
  context: NodeContext,
  policy: PolicyPlane,
  mailstore: string,
  command: MailstoreCommand,
): Promise<void> {
  const applied = await policy.mailstoreAdmin.command(mailstore, command).then(
    () => true,
    (error: unknown) => {
      if (!isRefusal(error)) throw error;
      return false;
    },
  );
  if (applied && (command.kind === 'trip' || command.kind === 'guard'))
    context.metrics.automaticStop(mailstore, command.kind);
}

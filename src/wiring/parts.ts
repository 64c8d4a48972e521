// Everything a node has started, each set as soon as it exists, and the order they stop in.
import type { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { withTimeout } from '../errors.js';
import type { EmbeddedRedis } from '../redis/embedded.js';
import type { MemoryWatch } from '../redis/memory-watch.js';
import type { MailQueues } from '../queue/queues.js';
import type { Consumers } from '../queue/consumers.js';
import type { ConsumerWatchdog } from '../loops/consumer-watchdog.js';
import type { BacklogWatch } from '../loops/backlog-watch.js';
import type { OverridesCache } from '../repositories/store-overrides.js';
import type { MailstoreControls } from '../repositories/mailstore-controls.js';
import type { RetentionSweeper } from '../loops/retention-sweeper.js';
import type { StoreAdmin } from '../admin/stores.js';
import type { MailstoreAdmin } from '../admin/mailstores.js';
import type { PolicyEnforcer } from '../loops/policy-enforcer.js';
import type { SmtpListener } from '../smtp/server.js';
import type { CertificateReloader } from '../smtp/certificates.js';
import type { MailstoreClient } from '../delivery/mailstore-client.js';

/**
 * Set field by field while the node starts: a start that fails half-way stops exactly what did
 * start. Every field but the first four is optional for that reason, so this is read only to stop:
 * a role that needs what an earlier one made takes it as an argument (see PolicyPlane), and app.ts
 * starts them in that order.
 */
export interface Parts {
  connections: Redis[];
  /** One client per store, for deliveries and probes. */
  clients: Map<string, MailstoreClient>;
  embedded?: EmbeddedRedis;
  memoryWatch?: MemoryWatch;
  sweeper?: RetentionSweeper;
  // Policy, on every node.
  controlQueues?: MailQueues;
  controls?: MailstoreControls;
  overrides?: OverridesCache;
  mailstoreAdmin?: MailstoreAdmin;
  storeAdmin?: StoreAdmin;
  enforcer?: PolicyEnforcer;
  // Delivery.
  workerQueues?: MailQueues;
  consumers?: Consumers;
  watchdog?: ConsumerWatchdog;
  closeBounces?: () => void;
  // Intake.
  backlogWatch?: BacklogWatch;
  /** The SMTP listeners, one per address (listeners, or listener). */
  listeners: SmtpListener[];
  /** One for each listener with a certificate. */
  certificates: CertificateReloader[];
  adminServer?: FastifyInstance;
}

export function emptyParts(): Parts {
  return { connections: [], clients: new Map(), listeners: [], certificates: [] };
}

/**
 * QUIT when the connection is up (replies in flight still arrive). A connection waiting to
 * reconnect would hold QUIT in its offline queue until Redis is back: it is only disconnected.
 * disconnect() also closes what QUIT leaves open: the sentinel subscriptions of its failover detector.
 */
async function closeConnection(connection: Redis): Promise<void> {
  if (connection.status === 'ready') await withTimeout(connection.quit(), 2000, 'QUIT').catch(() => undefined);
  connection.disconnect();
}

/** Graceful: 421 to newcomers, in-flight transactions finish, workers finish their attempts, then Redis. */
export async function stopParts(parts: Parts, graceMs: number): Promise<void> {
  await parts.adminServer?.close();
  await Promise.all(parts.certificates.map((certificates) => certificates.stop()));
  await Promise.all(parts.listeners.map((listener) => listener.drain(graceMs)));
  await parts.watchdog?.stop();
  await parts.consumers?.close(graceMs);
  for (const client of parts.clients.values()) client.close();
  parts.closeBounces?.();
  await parts.memoryWatch?.stop();
  await parts.sweeper?.stop();
  await parts.overrides?.stop();
  await parts.backlogWatch?.stop();
  await parts.enforcer?.stop();
  await parts.controlQueues?.close();
  await parts.workerQueues?.close();
  await Promise.all(parts.connections.map(closeConnection));
  await parts.embedded?.stop();
}

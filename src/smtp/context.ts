// What the SMTP stage handlers share: config, router, intake queue access, limits and the counts
// over all connections. Each connection's own state is its SmtpSession (session.ts).
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { Router } from '../routing/router.js';
import type { IncomingMessage } from '../queue/enqueue.js';
import type { IncomingBytes } from './body.js';
import type { ClientRate } from './client-rate.js';

export interface SmtpContext {
  config: Config;
  logger: Logger;
  router: Router;
  /** Commits the message durably or throws; the only way a message enters the queue. */
  enqueue: (message: IncomingMessage) => Promise<void>;
  /** Where a large message's bytes go while they arrive, before `enqueue` commits them. */
  incoming: (queueId: string, mailstores: readonly string[]) => IncomingBytes;
  /** True while Redis memory is above the high-water mark (cached, not a round trip). */
  storageFull: () => boolean;
  /** True while the mailstore's backlog is over one of its limits (cached, not a round trip). */
  mailstoreFull: (mailstore: string) => boolean;
  /** Counts each reply by stage and code (metrics); optional. */
  countReply?: (stage: string, code: number) => void;
  /** The clock for reception times (injected in tests). */
  now: () => number;
  /** Set once shutdown begins: new connections and transactions get 421. */
  draining: boolean;
  connectionsByAddress: Map<string, number>;
  openConnections: number;
  /** Connection attempts per client address per minute (limits.connections.ratePerIp). */
  connectionRate: ClientRate;
  /** MAIL FROM commands per client per minute. */
  messageRate: ClientRate;
  /** RCPT TO commands per client per minute. */
  recipientRate: ClientRate;
  /** Transactions between MAIL FROM and the DATA reply: shutdown waits for them. */
  inFlight: number;
}

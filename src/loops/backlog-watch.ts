// Polls the backlog of stores with limits once a second, so RCPT can answer 452 without a round trip.
import { PollingLoop } from './polling-loop.js';
import { EVENTS } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import { backlogOverLimit, hasBacklogLimit, type BacklogLimit } from '../policy/backlog-limit.js';
import type { Backlogs } from '../repositories/backlog.js';
import { systemClock, type Clock } from '../clock.js';

export class BacklogWatch {
  private readonly over = new Map<string, string[]>();
  private readonly limited: Array<[string, BacklogLimit]>;
  private readonly loop: PollingLoop;

  constructor(
    private readonly backlogs: Backlogs,
    limits: Record<string, BacklogLimit>,
    private readonly logger: Logger,
    private readonly now: Clock = systemClock,
    intervalMs = 1000,
  ) {
    this.limited = Object.entries(limits).filter(([, limit]) => hasBacklogLimit(limit));
    this.loop = new PollingLoop(() => this.poll(), intervalMs);
  }

  /** True when the store's backlog was over one of its limits at the last reading. */
  isOver(mailstore: string): boolean {
    return this.over.has(mailstore);
  }

  async start(): Promise<void> {
    if (this.limited.length === 0) return; // the default: no limits, nothing to poll
    await this.loop.start({ runFirst: true });
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  async poll(): Promise<void> {
    for (const [mailstore, limit] of this.limited) {
      let reached: string[];
      try {
        reached = backlogOverLimit(await this.backlogs.read(mailstore), limit, this.now());
      } catch {
        continue; // Redis unreachable: intake answers 451 by itself; keep the last reading
      }
      const was = this.over.has(mailstore);
      if (reached.length > 0) this.over.set(mailstore, reached);
      else this.over.delete(mailstore);
      if (was === reached.length > 0) continue;
      if (reached.length > 0) {
        this.logger.warn(
          { event: EVENTS.backlogLimitReached, mailstore, limits: reached },
          'mailstore backlog over its limit: new mail for it gets 452',
        );
      } else {
        this.logger.warn({ event: EVENTS.backlogLimitCleared, mailstore }, 'mailstore backlog back under its limits');
      }
    }
  }
}

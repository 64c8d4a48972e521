// Restarts a worker that stops taking jobs while its queue has mail due: a wedged fetch loop must not stall a store.
import { PollingLoop } from './polling-loop.js';
import type { Queue } from 'bullmq';
import { EVENTS } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import type { Consumers, WorkerActivity } from '../queue/consumers.js';
import type { DeliveryJobData } from '../queue/job-data.js';
import { wallClock } from '../clock.js';

/** One look at a store's queue and this node's worker for it. */
export interface QueueSample extends WorkerActivity {
  /** Jobs that could run now: waiting, plus a delayed job well past its time. */
  due: number;
  /** Paused (held, tripped, guarded), at its rate limit, or at its concurrency limit everywhere. */
  restrained: boolean;
}

/**
 * Wedged: mail was due at the previous look and still is, nothing restrained the queue, and this
 * worker took no job in between and runs none. A healthy worker takes a due job within
 * milliseconds, so one interval of that is not a slow store (attempts would be running) but a
 * fetch loop that no longer listens (BullMQ's blocking connection has had such bugs after Redis
 * restarts). With other nodes taking every job first this can restart an idle worker: harmless.
 */
export function looksWedged(before: QueueSample | undefined, now: QueueSample): boolean {
  if (!before || before.restrained || now.restrained) return false;
  return before.due > 0 && now.due > 0 && now.started === before.started && now.running === 0;
}

export interface WatchdogOptions {
  queue: (mailstore: string) => Queue<DeliveryJobData>;
  consumers: Consumers;
  mailstores: readonly string[];
  intervalMs: number;
  logger: Logger;
  /** A delayed job this late has been missed by the worker: BullMQ promotes due jobs at once. */
  delayedOverdueMs?: number;
}

export class ConsumerWatchdog {
  private readonly loop: PollingLoop;
  private readonly samples = new Map<string, QueueSample>();

  constructor(private readonly options: WatchdogOptions) {
    this.loop = new PollingLoop(() => this.check(), options.intervalMs);
  }

  start(): void {
    void this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  async check(): Promise<void> {
    const { mailstores, consumers, logger } = this.options;
    for (const mailstore of mailstores) {
      try {
        const now = await this.sample(mailstore);
        const before = this.samples.get(mailstore);
        this.samples.set(mailstore, now);
        if (!looksWedged(before, now)) continue;
        logger.warn(
          { event: EVENTS.workerRestarted, mailstore, due: now.due },
          'worker took no due job; restarting it',
        );
        await consumers.restart(mailstore);
        this.samples.delete(mailstore);
      } catch {
        // Redis is away: nothing can be judged now; the samples resume when it is back.
        this.samples.delete(mailstore);
      }
    }
  }

  private async sample(mailstore: string): Promise<QueueSample> {
    const queue = this.options.queue(mailstore);
    // Activity first: a job taken while the queue is being looked at must not look like none.
    const activity = this.options.consumers.activity(mailstore);
    const [counts, paused, rateLimitTtl, maxed, firstDelayed] = await Promise.all([
      queue.getJobCounts('wait', 'prioritized'),
      queue.isPaused(),
      queue.getRateLimitTtl(),
      queue.isMaxed(),
      queue.getBackend().client.then((client) => client.zrange(queue.keys.delayed!, 0, 0, { WITHSCORES: true })),
    ]);
    // BullMQ scores a delayed job by its due time in ms times 0x1000 (plus a tie-breaker).
    const firstDue = firstDelayed[1] === undefined ? Infinity : Math.floor(Number(firstDelayed[1]) / 0x1000);
    const overdue = wallClock() - firstDue > (this.options.delayedOverdueMs ?? 5000) ? 1 : 0;
    return {
      ...activity,
      due: (counts.wait ?? 0) + (counts.prioritized ?? 0) + overdue,
      restrained: paused || rateLimitTtl > 0 || maxed,
    };
  }
}

// The delivery workers of this node, one per mailstore queue: started, counted, restarted, closed.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Worker } from 'bullmq';
import type { DeliveryJobData } from './job-data.js';

/** What this node's worker for one store has done: jobs taken so far, and those still running. */
export interface WorkerActivity {
  started: number;
  running: number;
}

export type WorkerFactory = (mailstore: string, activity: WorkerActivity) => Worker<DeliveryJobData>;

export class Consumers {
  private readonly workers = new Map<string, Worker<DeliveryJobData>>();
  private readonly activities = new Map<string, WorkerActivity>();

  constructor(
    mailstores: Iterable<string>,
    private readonly create: WorkerFactory,
  ) {
    for (const mailstore of mailstores) {
      const activity = { started: 0, running: 0 };
      this.activities.set(mailstore, activity);
      this.workers.set(mailstore, create(mailstore, activity));
    }
  }

  worker(mailstore: string): Worker<DeliveryJobData> {
    const worker = this.workers.get(mailstore);
    if (!worker) throw new Error(`no worker for mailstore ${mailstore}`);
    return worker;
  }

  activity(mailstore: string): WorkerActivity {
    const activity = this.activities.get(mailstore);
    if (!activity) throw new Error(`no worker for mailstore ${mailstore}`);
    return { ...activity };
  }

  /**
   * Replaces the store's worker with a new one (new blocking connection, new fetch loop). The old
   * one is closed without waiting: it runs nothing, and whatever it might hold is protected by its
   * lock, which expires and lets the new worker take the job over.
   */
  async restart(mailstore: string): Promise<void> {
    const old = this.workers.get(mailstore);
    const activity = this.activities.get(mailstore);
    if (!old || !activity) throw new Error(`no worker for mailstore ${mailstore}`);
    this.workers.set(mailstore, this.create(mailstore, activity));
    await old.close(true).catch(() => undefined);
  }

  /**
   * Lets the workers finish the attempts they are in, for at most the grace period; then closes
   * them forcibly. A job cut off that way is not lost: its lock expires and a worker (here after
   * a restart, or on another node) takes it over.
   *
   * A worker whose blocking connection is waiting to reconnect (Redis down, or a failover under
   * way) never finishes closing (BullMQ 6.7 waits for an `end` event ioredis does not send then),
   * and a second, forced close returns the same promise: past the grace period the workers are
   * left behind, so that stopping the node never hangs.
   */
  async close(graceMs: number): Promise<void> {
    const workers = [...this.workers.values()];
    const graceOver = new AbortController();
    const closed = Promise.all(workers.map((worker) => worker.close()));
    const timeout = sleep(graceMs, false, { signal: graceOver.signal }).catch(() => false);
    const inTime = await Promise.race([closed.then(() => true), timeout]);
    graceOver.abort();
    if (inTime) return;
    const forced = Promise.all(workers.map((worker) => worker.close(true)));
    const forceOver = new AbortController();
    await Promise.race([
      forced,
      sleep(FORCED_CLOSE_MS, undefined, { signal: forceOver.signal }).catch(() => undefined),
    ]);
    forceOver.abort();
  }
}

/** How long a forced close may take before the workers are left behind. */
const FORCED_CLOSE_MS = 2000;

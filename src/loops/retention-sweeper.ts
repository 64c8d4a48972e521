// Every minute on every node: drops each store's retained copies past their period, then the oldest over its budget.
import { PollingLoop } from './polling-loop.js';
import {
  DROP_LIMIT,
  type Dropped,
  type RetainedMail,
  type RetentionSettings,
} from '../repositories/retained-copies.js';

export interface SweeperOptions {
  retained: RetainedMail;
  mailstores: readonly string[];
  settings: (mailstore: string) => RetentionSettings;
  now: () => number;
  onDropped: (mailstore: string, dropped: Dropped) => void;
  onError: (error: unknown, mailstore: string) => void;
  intervalMs?: number;
}

/**
 * Script calls per store and sweep at most (DROP_LIMIT copies each): a minute of a busy store's
 * deliveries expiring, or a budget cut by a restart, is worked off within a sweep or a few.
 */
const MAX_CALLS = 200;

/**
 * Copies past their period are dropped here only (storing a copy drops the oldest only when the
 * budget needs room): their index entries and byte count go within a sweep interval, and their
 * keys expire by themselves an hour after the period if sweeps stop. Each trim is one atomic
 * script: nodes sweeping at once drop each copy once.
 */
export class RetentionSweeper {
  private readonly loop: PollingLoop;

  constructor(private readonly options: SweeperOptions) {
    this.loop = new PollingLoop(() => this.sweep(), options.intervalMs ?? 60_000);
  }

  start(): void {
    void this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  async sweep(): Promise<void> {
    const { retained, mailstores, settings, now, onDropped, onError } = this.options;
    for (const mailstore of mailstores) {
      try {
        for (let call = 0; call < MAX_CALLS; call++) {
          const dropped = await retained.sweep(mailstore, settings(mailstore), now());
          onDropped(mailstore, dropped);
          if (dropped.expired < DROP_LIMIT && dropped.budget < DROP_LIMIT) break;
        }
      } catch (error) {
        onError(error, mailstore);
      }
    }
  }
}

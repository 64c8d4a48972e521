// The safety net's upkeep on every node: each store's retained copies trimmed by age and bytes each minute.
import { EVENTS } from '../observability/events.js';
import { RetentionSweeper } from '../loops/retention-sweeper.js';
import type { NodeContext } from './context.js';
import type { Parts } from './parts.js';

/** Every node trims every store's retained copies (each trim is atomic: nodes agree). */
export function startSweeper(context: NodeContext, parts: Parts): void {
  const { config, logger, metrics } = context;
  parts.sweeper = new RetentionSweeper({
    retained: context.retained,
    mailstores: Object.keys(config.mailstores),
    settings: (mailstore) => config.mailstores[mailstore]!.retention,
    now: context.now,
    onDropped: (mailstore, dropped) => {
      metrics.discarded(mailstore, 'expired', dropped.expired);
      metrics.discarded(mailstore, 'budget', dropped.budget);
    },
    onError: (error, mailstore) =>
      logger.warn({ event: EVENTS.redisUnavailable, err: error, mailstore }, 'cannot sweep retained copies'),
  });
  parts.sweeper.start();
}

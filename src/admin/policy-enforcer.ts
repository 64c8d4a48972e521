// Every few seconds on every node: lifts holds whose end time has come, and keeps queues obeying states.
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import { SYSTEM_ACTOR, holdHasExpired } from '../policy/mailstore-state.js';
import type { MailstoreAdmin } from './mailstores.js';
import type { MailstoreControls } from '../queue/mailstore-controls.js';

export class PolicyEnforcer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly mailstores: readonly string[],
    private readonly controls: MailstoreControls,
    private readonly admin: MailstoreAdmin,
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly intervalMs = 2000,
  ) {}

  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => {
      this.running ??= this.tick().finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async tick(): Promise<void> {
    for (const mailstore of this.mailstores) {
      try {
        const state = await this.controls.read(mailstore);
        if (holdHasExpired(state, this.now())) {
          // Another node may lift it first: then release finds it open and says so; harmless.
          await this.admin
            .release(mailstore, { by: SYSTEM_ACTOR, reason: 'hold reached its end time' })
            .catch(() => undefined);
          continue;
        }
        await this.controls.enforce(mailstore, state);
      } catch (error) {
        this.logger.warn({ event: EVENTS.redisUnavailable, err: error, mailstore }, 'cannot check the mailstore state');
      }
    }
  }
}

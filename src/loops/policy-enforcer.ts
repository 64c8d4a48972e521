// Every few seconds on every node: starts maintenance windows, lifts expired holds, probes, keeps queues obeying states.
import { PollingLoop } from './polling-loop.js';
import { isRefusal, refused } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import {
  SYSTEM_ACTOR,
  holdHasExpired,
  probeIsDue,
  rampStepIsDue,
  type MailstoreState,
} from '../policy/mailstore-state.js';
import { planWindows } from '../policy/maintenance.js';
import { type MailstoreAdmin } from '../admin/mailstores.js';
import type { MailstoreControls } from '../repositories/mailstore-controls.js';

export interface EnforcerOptions {
  mailstores: readonly string[];
  controls: MailstoreControls;
  admin: MailstoreAdmin;
  logger: Logger;
  now: () => number;
  /** Does the store answer (connect, greeting, LHLO)? */
  probe: (mailstore: string) => Promise<boolean>;
  /** False on a node that delivers nothing: it leaves due probes to nodes that can make them. */
  canProbe: boolean;
  maxProbeIntervalMs: (mailstore: string) => number;
  /** Moves queued mail of a store whose mail an operator moved to another store (no-op otherwise). */
  moveMail?: (mailstore: string) => Promise<void>;
  intervalMs?: number;
}

export class PolicyEnforcer {
  private readonly loop: PollingLoop;

  constructor(private readonly options: EnforcerOptions) {
    this.loop = new PollingLoop(() => this.tick(), options.intervalMs ?? 2000);
  }

  start(): Promise<void> {
    return this.loop.start({ runFirst: true });
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  async tick(): Promise<void> {
    const { mailstores, controls, admin, logger, now } = this.options;
    for (const mailstore of mailstores) {
      try {
        // First: at the end of one window the next may begin, holding on without a release between.
        await this.maintenanceWindows(mailstore);
        await this.options.moveMail?.(mailstore);
        const state = await controls.read(mailstore);
        if (holdHasExpired(state, now())) {
          // Another node may lift it first: then release finds it open and says so; harmless.
          await admin.release(mailstore, { by: SYSTEM_ACTOR, reason: 'hold reached its end time' }).catch(ignoreRaces);
          continue;
        }
        // A probe or a ramp step changes the state and enforces the new one itself.
        if (this.options.canProbe && probeIsDue(state, now())) await this.probe(mailstore);
        else if (rampStepIsDue(state, now())) await this.rampStep(mailstore);
        else await controls.enforce(mailstore, state);
      } catch (error) {
        logger.warn({ event: EVENTS.redisUnavailable, err: error, mailstore }, 'cannot check the mailstore state');
      }
    }
  }

  /**
   * Starts the window whose time has come (compare-and-set with marking it started: one node does
   * it, and not over an operator's hold) and drops those over. Windows are read before the state,
   * so the state is never older than the windows it is judged with.
   */
  private async maintenanceWindows(mailstore: string): Promise<void> {
    const { admin, controls, now } = this.options;
    const windows = await controls.windows.read(mailstore);
    if (windows.length === 0) return;
    const plan = planWindows(windows, await controls.read(mailstore), now());
    await admin.dropWindows(mailstore, plan.drop);
    if (plan.start) await admin.startWindow(mailstore, plan.start).catch(ignoreRaces);
  }

  /**
   * An operator's probe, now, whatever the schedule: a tripped store that answers is released
   * with the ramp. Only a node that delivers can probe.
   */
  async probeNow(mailstore: string): Promise<{ answered: boolean; state: MailstoreState }> {
    const { admin, controls, logger } = this.options;
    if (!this.options.canProbe) throw refused('this node delivers nothing: probe from a delivery node');
    const answered = await this.options.probe(mailstore);
    logger.info(
      { event: EVENTS.probe, mailstore, answered, by: 'operator' },
      answered ? 'probe answered' : 'probe failed',
    );
    if (answered) {
      await controls.recordHealth(mailstore, true);
      const state = await controls.read(mailstore);
      if (state.kind === 'tripped') {
        await admin.command(mailstore, { kind: 'probe-succeeded', plan: admin.rampPlan(mailstore) }).catch(ignoreRaces);
      }
    }
    return { answered, state: await controls.read(mailstore) };
  }

  /** One node claims the due probe (compare-and-set), probes, and reopens the store if it answered. */
  private async probe(mailstore: string): Promise<void> {
    const { admin, controls, logger } = this.options;
    const claimed = await admin
      .command(mailstore, { kind: 'claim-probe', maxProbeIntervalMs: this.options.maxProbeIntervalMs(mailstore) })
      .then(() => true, ignoreRaces);
    if (!claimed) return;
    const answered = await this.options.probe(mailstore);
    logger.info({ event: EVENTS.probe, mailstore, answered }, answered ? 'probe answered' : 'probe failed');
    if (!answered) return;
    await controls.recordHealth(mailstore, true);
    await admin.command(mailstore, { kind: 'probe-succeeded', plan: admin.rampPlan(mailstore) }).catch(ignoreRaces);
  }

  /** The ramp's next step (compare-and-set: one node takes it): faster, slower, or fully open. */
  private async rampStep(mailstore: string): Promise<void> {
    const { admin, controls } = this.options;
    const [counts, failures] = await Promise.all([controls.counts(mailstore), controls.consecutiveFailures(mailstore)]);
    const remaining = counts.waiting + counts.delayed + counts.active;
    const plan = admin.rampPlan(mailstore);
    await admin.command(mailstore, { kind: 'ramp-step', healthy: failures === 0, remaining, plan }).catch(ignoreRaces);
  }
}

/** A state change another node (or an operator) made first is not an error here. */
function ignoreRaces(error: unknown): false {
  if (isRefusal(error)) return false;
  throw error;
}

// Operator operations on a store's live settings: move its mail to another store (failover), change its endpoints.
import { refused } from '../errors.js';
import type { Config } from '../config/schema.js';
import { parseEndpoint } from '../config/units.js';
import { EVENTS } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import type { StoreAuditEntry } from '../policy/mailstore-state.js';
import { moveProblem, type StoreOverrides } from '../policy/store-move.js';
import type { MailstoreControls } from '../repositories/mailstore-controls.js';
import type { StoreOverridesRepository } from '../repositories/store-overrides.js';
import { systemClock, type Clock } from '../clock.js';

interface Actor {
  by: string;
  reason: string;
}

export class StoreAdmin {
  constructor(
    private readonly config: Config,
    private readonly overrides: StoreOverridesRepository,
    private readonly controls: MailstoreControls,
    private readonly logger: Logger,
    private readonly now: Clock = systemClock,
  ) {}

  /**
   * From now on, mail for `from` (queued and new) goes to `to`: recipients resolve to `to` at
   * RCPT and before each attempt, and every node moves `from`'s queued mail over (see
   * moveQueuedMail). `from` keeps its state; unmove it to send its users' mail back.
   */
  async move(from: string, to: string, actor: Actor): Promise<void> {
    this.needReason(actor);
    const all = await this.overrides.readAll();
    const problem = moveProblem(from, to, all, new Set(Object.keys(this.config.mailstores)));
    if (problem) throw refused(problem);
    await this.overrides.write(from, { ...all.get(from), movedTo: to });
    await this.record({ action: 'move-store', mailstore: from, to, ...actor });
  }

  /** Mail for the store goes to the store itself again; mail moved away comes back at its next attempt. */
  async unmove(mailstore: string, actor: Actor): Promise<void> {
    this.needReason(actor);
    const current = await this.current(mailstore);
    if (current.movedTo === undefined) throw refused(`${mailstore} is not moved`);
    await this.overrides.write(mailstore, { ...current, movedTo: undefined });
    await this.record({ action: 'unmove-store', mailstore, ...actor });
  }

  /** Delivers to these endpoints (host:port, in order) instead of the config's, on every node within a second. */
  async setEndpoints(mailstore: string, endpoints: string[], actor: Actor): Promise<void> {
    this.needReason(actor);
    const invalid = endpoints.filter((endpoint) => parseEndpoint(endpoint) === undefined);
    if (endpoints.length === 0) throw refused('give at least one endpoint (host:port)');
    if (invalid.length > 0) throw refused(`not host:port or unix:/path: ${invalid.join(', ')}`);
    const current = await this.current(mailstore);
    await this.overrides.write(mailstore, { ...current, endpoints });
    await this.record({ action: 'set-endpoints', mailstore, endpoints, ...actor });
  }

  /** Back to the endpoints of the config file. */
  async resetEndpoints(mailstore: string, actor: Actor): Promise<void> {
    this.needReason(actor);
    const current = await this.current(mailstore);
    if (current.endpoints === undefined) throw refused(`${mailstore} uses its configured endpoints`);
    await this.overrides.write(mailstore, { ...current, endpoints: undefined });
    await this.record({ action: 'reset-endpoints', mailstore, ...actor });
  }

  private async current(mailstore: string): Promise<StoreOverrides> {
    if (!Object.hasOwn(this.config.mailstores, mailstore)) {
      throw refused(`unknown mailstore "${mailstore}"`);
    }
    return (await this.overrides.readAll()).get(mailstore) ?? {};
  }

  private needReason(actor: Actor): void {
    if (actor.reason.trim() === '') throw refused('give a reason (kept in the audit trail)');
  }

  private async record(change: Omit<StoreAuditEntry, 'at'>): Promise<void> {
    const entry: StoreAuditEntry = { at: this.now(), ...change };
    await this.controls.appendAudit(entry);
    this.logger.warn({ event: EVENTS.storeChanged, ...entry }, `mailstore ${entry.mailstore}: ${entry.action}`);
  }
}

// The mailstores' maintenance windows in Redis: added if unchanged, removed by exact member, audited atomically.
import type { Redis } from 'ioredis';
import { withTimeout } from '../errors.js';
import { LuaScript } from '../redis/scripts.js';
import type { MaintenanceWindow, WindowAuditEntry } from '../policy/maintenance.js';
import type { Keys } from '../queue/keys.js';

/** Adds a window only if the set is still the one its overlap was checked against; audits it. 1: added. */
const ADD_SCRIPT = new LuaScript('window-add');

/** Removes exact members, auditing each one removed (an empty entry: none); 1 or 0 per member. */
const REMOVE_SCRIPT = new LuaScript<number[]>('window-remove');

/** A window's member in the sorted set: always written with the same key order, so it is found again. */
export function windowMember(window: MaintenanceWindow): string {
  const { from, until, reason, by, scheduledAt, startedAt } = window;
  return JSON.stringify({ from, until, reason, by, scheduledAt, startedAt });
}

export interface WindowRemoval {
  window: MaintenanceWindow;
  /** Appended to the audit trail only if this call removed the window. */
  audit?: WindowAuditEntry;
}

export class MaintenanceWindows {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly timeoutMs: number,
    private readonly auditLength: number,
  ) {}

  /** The store's windows, earliest first. */
  async read(mailstore: string): Promise<MaintenanceWindow[]> {
    return (await this.readVersioned(mailstore)).windows;
  }

  /** The windows and their stored form, which `addIfUnchanged` compares to detect a concurrent change. */
  async readVersioned(mailstore: string): Promise<{ windows: MaintenanceWindow[]; version: string }> {
    const members = await withTimeout(
      this.redis.zrange(this.keys.mailstoreWindows(mailstore), '0', '-1'),
      this.timeoutMs,
      'reading maintenance windows',
    );
    return { windows: members.map((member) => JSON.parse(member) as MaintenanceWindow), version: members.join('\n') };
  }

  /** Stores the window and its audit entry if the windows are still those read as `version`. */
  async addIfUnchanged(
    mailstore: string,
    version: string,
    window: MaintenanceWindow,
    audit: WindowAuditEntry,
  ): Promise<boolean> {
    const keys = [this.keys.mailstoreWindows(mailstore), this.keys.mailstoreAudit(mailstore)];
    const argv = [version, String(window.from), windowMember(window), JSON.stringify(audit), String(this.auditLength)];
    const added = await withTimeout(
      ADD_SCRIPT.run(this.redis, keys, argv),
      this.timeoutMs,
      'scheduling a maintenance window',
    );
    return added === 1;
  }

  /** Removes these windows (those another node or an operator removed first are skipped); returns those removed. */
  async remove(mailstore: string, removals: readonly WindowRemoval[]): Promise<MaintenanceWindow[]> {
    if (removals.length === 0) return [];
    const keys = [this.keys.mailstoreWindows(mailstore), this.keys.mailstoreAudit(mailstore)];
    const argv = removals.flatMap(({ window, audit }) => [windowMember(window), audit ? JSON.stringify(audit) : '']);
    const removed = await withTimeout(
      REMOVE_SCRIPT.run(this.redis, keys, [String(this.auditLength), ...argv]),
      this.timeoutMs,
      'removing maintenance windows',
    );
    return removals.filter((_, index) => removed[index] === 1).map(({ window }) => window);
  }
}

// Operator operations on the routing table held in Redis: look up, set, delete, bulk import.
import { refused } from '../errors.js';
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { RouteTable } from '../routing/route-table.js';
import { Router, type Route } from '../routing/router.js';
import { parseRouteLines } from '../routing/user-file.js';

export interface RouteExplanation {
  address: string;
  table: string | null;
  config: string | null;
  effective: Route;
}

export class RouteAdmin {
  constructor(
    private readonly config: Config,
    private readonly table: RouteTable,
  ) {}

  async explain(address: string): Promise<RouteExplanation> {
    const normalised = address.toLowerCase();
    return {
      address: normalised,
      table: await this.table.lookup(normalised),
      config: Object.hasOwn(this.config.routing.users, normalised) ? this.config.routing.users[normalised]! : null,
      effective: await new Router(this.config, this.table).resolve(normalised),
    };
  }

  async set(address: string, mailstore: string): Promise<void> {
    this.requireMailstores([mailstore], address);
    if (!address.includes('@')) throw refused(`not an address: ${address}`);
    await this.table.set(address, mailstore);
  }

  async remove(address: string): Promise<void> {
    await this.table.remove(address);
  }

  /** Validates the whole file first: one bad line and nothing is loaded. */
  async importFile(path: string, options: { replace?: boolean }): Promise<{ loaded: number; tableSize: number }> {
    return this.importText(readFileSync(path, 'utf8'), path, options);
  }

  /** The same for a file's text (`source` names it in problems). */
  async importText(
    text: string,
    source: string,
    options: { replace?: boolean },
  ): Promise<{ loaded: number; tableSize: number }> {
    const { entries, problems } = parseRouteLines(text, source);
    for (const { address, mailstore } of entries) {
      if (!Object.hasOwn(this.config.mailstores, mailstore))
        problems.push(`${source}: ${address}: unknown mailstore "${mailstore}"`);
    }
    if (problems.length > 0) throw refused(problems.join('\n'));
    const loaded = await this.table.bulkLoad(entries, options);
    return { loaded, tableSize: await this.table.size() };
  }

  private requireMailstores(mailstores: string[], address: string): void {
    const unknown = mailstores.filter((mailstore) => !Object.hasOwn(this.config.mailstores, mailstore));
    if (unknown.length > 0)
      throw refused(unknown.map((mailstore) => `${address}: unknown mailstore "${mailstore}"`).join('\n'));
  }
}

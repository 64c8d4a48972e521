// Maps a recipient to the mailstore that holds its mailbox, or says why it cannot be accepted.
import type { Config } from '../config/schema.js';
import { HoldfastError } from '../errors.js';

export type Route = { kind: 'mailstore'; mailstore: string } | { kind: 'unknown-user' } | { kind: 'not-local' };

/** The routing table's entry for an address; `remembered`: this node's last read, the table could not be read now. */
export interface TableAnswer {
  mailstore: string | null;
  remembered: boolean;
}

export interface RouteLookup {
  lookupEntry(address: string): Promise<TableAnswer>;
}

export class Router {
  constructor(
    private readonly config: Config,
    private readonly table: RouteLookup,
    /** Where mail for a store goes now: itself, or the store an operator moved its mail to. */
    private readonly destination: (mailstore: string) => string = (mailstore) => mailstore,
  ) {}

  /**
   * Order: the Redis table (operators change it live), then the config's user entries, then the
   * domain's default mailstore unless the domain rejects unknown users. Addresses compare
   * case-insensitively. A table entry naming a mailstore this node does not know is ignored.
   * A store whose mail an operator moved to another store resolves to that store.
   */
  async resolve(address: string): Promise<Route> {
    const route = await this.resolveHome(address);
    return route.kind === 'mailstore' ? { kind: 'mailstore', mailstore: this.destination(route.mailstore) } : route;
  }

  /** The store that holds the mailbox, before any move of that store's mail. */
  private async resolveHome(address: string): Promise<Route> {
    const normalised = address.toLowerCase();
    const domainName = normalised.slice(normalised.lastIndexOf('@') + 1);
    // Object.hasOwn: a domain called "constructor" must not find Object.prototype's.
    const { domains, mailstores, routing } = this.config;
    if (!normalised.includes('@') || !Object.hasOwn(domains, domainName)) return { kind: 'not-local' };
    const domain = domains[domainName]!;
    const { mailstore: fromTable, remembered } = await this.table.lookupEntry(normalised);
    if (fromTable && Object.hasOwn(mailstores, fromTable)) return { kind: 'mailstore', mailstore: fromTable };
    if (Object.hasOwn(routing.users, normalised)) return { kind: 'mailstore', mailstore: routing.users[normalised]! };
    if (domain.rejectUnknownUsers) {
      // Unknown by a remembered answer only: the user may have been added to the table since. A
      // table that cannot be read never makes a 550: the sender is told to try again (451).
      if (remembered) throw new HoldfastError('REDIS_UNAVAILABLE', 'the routing table cannot be read');
      return { kind: 'unknown-user' };
    }
    return { kind: 'mailstore', mailstore: domain.mailstore };
  }
}

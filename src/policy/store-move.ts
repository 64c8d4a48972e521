// Pure: moving a store's mail to another store (failover to a replica), and where mail for a store goes now.

/** What operators changed of a store live; absent fields follow the config file. */
export interface StoreOverrides {
  /** host:port, tried in order, instead of the config's endpoints. */
  endpoints?: string[];
  /** The store whose mail, queued and new, now goes to this other store. */
  movedTo?: string;
}

/** Why X cannot be moved to Y, or undefined when it can. */
export function moveProblem(
  from: string,
  to: string,
  overrides: ReadonlyMap<string, StoreOverrides>,
  known: ReadonlySet<string>,
): string | undefined {
  if (!known.has(from)) return `unknown mailstore "${from}"`;
  if (!known.has(to)) return `unknown mailstore "${to}"`;
  if (from === to) return 'a mailstore cannot be moved to itself';
  const onward = overrides.get(to)?.movedTo;
  if (onward !== undefined)
    return `${to} is itself moved to ${onward}: move ${from} to ${onward}, or unmove ${to} first`;
  const current = overrides.get(from)?.movedTo;
  if (current === to) return `${from} is already moved to ${to}`;
  return undefined;
}

/** Where mail for the store goes: the store itself, or the store it was moved to. */
export function destinationOf(mailstore: string, overrides: ReadonlyMap<string, StoreOverrides>): string {
  return overrides.get(mailstore)?.movedTo ?? mailstore;
}

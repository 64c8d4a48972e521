// The client's reverse DNS name, looked up once per address for a while, not at every connection.
import { promises as dns } from 'node:dns';
import type { SMTPServerResolver } from 'smtp-server';
import { systemClock } from '../clock.js';

export interface ReverseCacheOptions {
  /** How long an answer (names, or "no name") is kept. */
  ttlMs: number;
  /** Addresses kept at most; the least recently used go first. */
  maxEntries: number;
  now?: () => number;
  /** The lookup itself (Node's resolver by default; tests give their own). */
  reverse?: (ip: string) => Promise<string[]>;
}

interface Entry {
  at: number;
  answer: Promise<string[]>;
}

/** Answers that say the address has no name: kept like names. Anything else (a timeout, SERVFAIL) is asked again. */
const NO_NAME = new Set(['ENOTFOUND', 'ENODATA', 'NOTFOUND', 'NODATA']);

/**
 * smtp-server looks up every client's name before its greeting: a query to the DNS server per
 * connection, 2 to 6 ms here, on the path of every session. A sender opens many connections from
 * the same few addresses, so each address is looked up once per `ttlMs` (connections arriving
 * meanwhile share the lookup in flight), as a caching resolver on the host would. Failures other
 * than "no such name" are not kept.
 */
export class ReverseCache implements SMTPServerResolver {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly lookup: (ip: string) => Promise<string[]>;

  constructor(private readonly options: ReverseCacheOptions) {
    this.now = options.now ?? systemClock;
    this.lookup = options.reverse ?? ((ip) => dns.reverse(ip));
  }

  reverse(ip: string, callback: (error: Error | null, hostnames?: string[]) => void): void {
    this.names(ip).then(
      // A copy: smtp-server takes names off the list it is given.
      (names) => callback(null, [...names]),
      (error: unknown) => callback(error as Error),
    );
  }

  /** The address's names (empty: none), from the cache or a lookup. */
  names(ip: string): Promise<string[]> {
    const now = this.now();
    const cached = this.entries.get(ip);
    if (cached && now - cached.at < this.options.ttlMs) {
      // Most recently used last: the first entries are the ones to drop.
      this.entries.delete(ip);
      this.entries.set(ip, cached);
      return cached.answer;
    }
    const answer: Promise<string[]> = this.lookup(ip).catch((error: unknown) => {
      if (NO_NAME.has((error as { code?: string }).code ?? '')) return [];
      // Forget this failed lookup, not a newer one made for the address meanwhile.
      if (this.entries.get(ip)?.answer === answer) this.entries.delete(ip);
      throw error;
    });
    this.entries.delete(ip);
    this.entries.set(ip, { at: now, answer });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.options.maxEntries) break;
      this.entries.delete(oldest);
    }
    return answer;
  }

  get size(): number {
    return this.entries.size;
  }
}

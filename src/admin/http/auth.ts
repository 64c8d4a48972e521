// Bearer-token check for the admin API: constant-time comparison, and a limit on failed attempts per client.
import { createHash, timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock } from '../../clock.js';

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Compares in constant time whatever the lengths (both sides are hashed first). */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  return timingSafeEqual(digest(presented), digest(expected));
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** Failed attempts per client address within a sliding minute; over the limit, the client waits. */
export class FailedAuthLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit = 10,
    private readonly windowMs = 60_000,
    private readonly now: Clock = systemClock,
  ) {}

  blocked(client: string): boolean {
    return this.recent(client).length >= this.limit;
  }

  record(client: string): void {
    const times = this.recent(client);
    times.push(this.now());
    this.failures.set(client, times);
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value!);
  }

  private recent(client: string): number[] {
    const since = this.now() - this.windowMs;
    return (this.failures.get(client) ?? []).filter((time) => time > since);
  }
}

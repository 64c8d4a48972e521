// Unit tests for recipient routing: Redis table, then config users, then the domain default.
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { Router, type RouteLookup, type TableAnswer } from '../../../src/routing/router.js';

/** A route table held in memory, recording the addresses it was asked about. */
class MemoryRouteTable implements RouteLookup {
  readonly asked: string[] = [];
  constructor(
    private readonly entries: Record<string, string> = {},
    /** Answers as a table that could not be read, from what it remembers. */
    private readonly remembered = false,
  ) {}
  lookupEntry(address: string): Promise<TableAnswer> {
    this.asked.push(address);
    return Promise.resolve({ mailstore: this.entries[address] ?? null, remembered: this.remembered });
  }
}

function config(): Config {
  const result = validateConfig(
    {
      domains: {
        'strict.example': { mailstore: 'store1', rejectUnknownUsers: true },
        'Open.Example': { mailstore: 'store1', rejectUnknownUsers: false },
      },
      routing: { users: { 'Alice@Strict.Example': 'store2', 'bob@open.example': 'store2' } },
      mailstores: {
        store1: { endpoints: ['127.0.0.1:24'] },
        store2: { endpoints: ['127.0.0.1:2424'] },
        store3: { endpoints: ['127.0.0.1:2425'] },
      },
    },
    { baseDirectory: '/' },
  );
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.config;
}

const router = (entries: Record<string, string> = {}) => new Router(config(), new MemoryRouteTable(entries));

describe('Router.resolve', () => {
  it('prefers the route table over the config users', async () => {
    const route = await router({ 'alice@strict.example': 'store3' }).resolve('alice@strict.example');
    expect(route).toEqual({ kind: 'mailstore', mailstore: 'store3' });
  });

  it('prefers the route table over the domain default', async () => {
    const route = await router({ 'carol@open.example': 'store3' }).resolve('carol@open.example');
    expect(route).toEqual({ kind: 'mailstore', mailstore: 'store3' });
  });

  it('prefers the config users over the domain default', async () => {
    expect(await router().resolve('bob@open.example')).toEqual({ kind: 'mailstore', mailstore: 'store2' });
  });

  it('sends an unlisted user of an open domain to the domain default', async () => {
    expect(await router().resolve('carol@open.example')).toEqual({ kind: 'mailstore', mailstore: 'store1' });
  });

  it('refuses an unlisted user of a domain that rejects unknown users', async () => {
    expect(await router().resolve('carol@strict.example')).toEqual({ kind: 'unknown-user' });
  });

  it('routes a listed user of a domain that rejects unknown users', async () => {
    expect(await router().resolve('alice@strict.example')).toEqual({ kind: 'mailstore', mailstore: 'store2' });
  });

  it('says an address of another domain is not local', async () => {
    expect(await router().resolve('alice@elsewhere.example')).toEqual({ kind: 'not-local' });
  });

  it('says a subdomain of a local domain is not local', async () => {
    expect(await router().resolve('alice@sub.strict.example')).toEqual({ kind: 'not-local' });
  });

  it('says an address without an @ is not local, even if it names a local domain', async () => {
    expect(await router().resolve('strict.example')).toEqual({ kind: 'not-local' });
  });

  it('does not consult the route table for another domain', async () => {
    const table = new MemoryRouteTable({ 'alice@elsewhere.example': 'store1' });
    const route = await new Router(config(), table).resolve('alice@elsewhere.example');
    expect(route).toEqual({ kind: 'not-local' });
    expect(table.asked).toEqual([]);
  });

  it('compares addresses case-insensitively and asks the table in lower case', async () => {
    const table = new MemoryRouteTable({ 'dave@open.example': 'store3' });
    const resolving = new Router(config(), table);
    expect(await resolving.resolve('Dave@OPEN.example')).toEqual({ kind: 'mailstore', mailstore: 'store3' });
    expect(await resolving.resolve('ALICE@strict.EXAMPLE')).toEqual({ kind: 'mailstore', mailstore: 'store2' });
    expect(table.asked).toEqual(['dave@open.example', 'alice@strict.example']);
  });

  it('ignores a table entry naming a mailstore this node does not know', async () => {
    const route = await router({ 'alice@strict.example': 'store9' }).resolve('alice@strict.example');
    expect(route).toEqual({ kind: 'mailstore', mailstore: 'store2' });
  });

  it('falls back to refusing the user when an ignored table entry was the only route', async () => {
    const route = await router({ 'carol@strict.example': 'store9' }).resolve('carol@strict.example');
    expect(route).toEqual({ kind: 'unknown-user' });
  });

  it('passes on a failing route table to the caller', async () => {
    const failing: RouteLookup = { lookupEntry: () => Promise.reject(new Error('redis down')) };
    await expect(new Router(config(), failing).resolve('alice@strict.example')).rejects.toThrow('redis down');
  });

  it('says 451, not unknown user, when the table could not be read and only a remembered answer says so', async () => {
    const stale = new MemoryRouteTable({}, true);
    await expect(new Router(config(), stale).resolve('newcomer@strict.example')).rejects.toMatchObject({
      code: 'REDIS_UNAVAILABLE',
    });
    // A user the config knows, or a remembered table entry, still routes.
    expect(
      await new Router(config(), new MemoryRouteTable({ 'x@strict.example': 'store2' }, true)).resolve(
        'x@strict.example',
      ),
    ).toMatchObject({ kind: 'mailstore' });
  });

  it('does not take Object.prototype names for local domains', async () => {
    expect(await router().resolve('x@constructor')).toEqual({ kind: 'not-local' });
    expect(await router().resolve('x@__proto__')).toEqual({ kind: 'not-local' });
  });

  it('does not take Object.prototype names from the route table for mailstores', async () => {
    expect(await router({ 'alice@strict.example': 'toString' }).resolve('alice@strict.example')).toEqual({
      kind: 'mailstore',
      mailstore: 'store2',
    });
  });
});

// The reverse DNS cache: one lookup per client address for a while, shared by the connections that come meanwhile.
import { describe, expect, it } from 'vitest';
import { ReverseCache } from '../../../src/smtp/reverse-cache.js';

function failure(code: string): Error {
  return Object.assign(new Error(code), { code });
}

/** A cache over a fake resolver that counts its lookups; `answers` says what each address gets. */
function cacheWith(answers: Record<string, string[] | Error>, maxEntries = 100) {
  const lookups: string[] = [];
  let clock = 0;
  const cache = new ReverseCache({
    ttlMs: 60_000,
    maxEntries,
    now: () => clock,
    reverse: async (ip) => {
      lookups.push(ip);
      await Promise.resolve();
      const answer = answers[ip] ?? failure('ENOTFOUND');
      if (answer instanceof Error) throw answer;
      return answer;
    },
  });
  const reverse = (ip: string) =>
    new Promise<string[]>((resolve, reject) =>
      cache.reverse(ip, (error, names) => (error ? reject(error) : resolve(names!))),
    );
  return { cache, lookups, reverse, advance: (ms: number) => (clock += ms) };
}

describe('the reverse DNS cache', () => {
  it('looks an address up once within its time to live, and again after it', async () => {
    const { lookups, reverse, advance } = cacheWith({ '192.0.2.1': ['mx.example.net'] });
    expect(await reverse('192.0.2.1')).toEqual(['mx.example.net']);
    advance(59_000);
    expect(await reverse('192.0.2.1')).toEqual(['mx.example.net']);
    expect(lookups).toEqual(['192.0.2.1']);
    advance(2000);
    await reverse('192.0.2.1');
    expect(lookups).toEqual(['192.0.2.1', '192.0.2.1']);
  });

  it('shares one lookup among the connections that arrive while it runs', async () => {
    const { lookups, reverse } = cacheWith({ '192.0.2.2': ['a.example.net'] });
    expect(await Promise.all([reverse('192.0.2.2'), reverse('192.0.2.2'), reverse('192.0.2.2')])).toEqual([
      ['a.example.net'],
      ['a.example.net'],
      ['a.example.net'],
    ]);
    expect(lookups).toHaveLength(1);
  });

  it('hands each connection its own list, since smtp-server takes names off it', async () => {
    const { cache } = cacheWith({ '192.0.2.3': ['one.example.net', 'two.example.net'] });
    const first = await new Promise<string[]>((resolve) => cache.reverse('192.0.2.3', (_, names) => resolve(names!)));
    first.shift();
    const second = await new Promise<string[]>((resolve) => cache.reverse('192.0.2.3', (_, names) => resolve(names!)));
    expect(second).toEqual(['one.example.net', 'two.example.net']);
  });

  it('keeps "no such name" like a name, and asks again after a failure of the resolver', async () => {
    const { lookups, reverse } = cacheWith({ '192.0.2.5': failure('ETIMEOUT') });
    expect(await reverse('192.0.2.4')).toEqual([]);
    expect(await reverse('192.0.2.4')).toEqual([]);
    await expect(reverse('192.0.2.5')).rejects.toThrow('ETIMEOUT');
    await expect(reverse('192.0.2.5')).rejects.toThrow('ETIMEOUT');
    expect(lookups).toEqual(['192.0.2.4', '192.0.2.5', '192.0.2.5']);
  });

  it('keeps at most its bound of addresses, dropping the least recently used', async () => {
    const { cache, lookups, reverse } = cacheWith({}, 2);
    await reverse('192.0.2.10');
    await reverse('192.0.2.11');
    await reverse('192.0.2.10');
    await reverse('192.0.2.12');
    expect(cache.size).toBe(2);
    await reverse('192.0.2.10');
    await reverse('192.0.2.11');
    expect(lookups).toEqual(['192.0.2.10', '192.0.2.11', '192.0.2.12', '192.0.2.11']);
  });
});

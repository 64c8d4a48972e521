import { describe, expect, it } from 'vitest';
import { BodyCollector, type IncomingBytes } from '../../../src/smtp/body.js';

/** A spool that records what it was given; `failAt` makes that append (0-based) fail. */
function recordingSpool(failAt = -1) {
  const appended: Buffer[] = [];
  let discarded = 0;
  const spool: IncomingBytes = {
    append: (chunk) => {
      if (appended.length === failAt) {
        appended.push(Buffer.alloc(0));
        return Promise.reject(new Error('OOM command not allowed when used memory > maxmemory'));
      }
      appended.push(chunk);
      return Promise.resolve();
    },
    discard: () => {
      discarded++;
      return Promise.resolve();
    },
  };
  return { spool, appended, discarded: () => discarded };
}

/** Feeds the chunks one by one, waiting for each spool write as the DATA reader does. */
async function feed(collector: BodyCollector, chunks: Buffer[]): Promise<void> {
  for (const chunk of chunks) await collector.add(chunk);
}

const chunk = (letter: string, size: number) => Buffer.alloc(size, letter);

describe('the DATA body collector', () => {
  it('keeps a message smaller than the threshold in memory, header first, and spools nothing', async () => {
    const { spool, appended } = recordingSpool();
    const collector = new BodyCollector(Buffer.from('Received: x\r\n'), { threshold: 1000, maxSize: 10_000 }, spool);
    await feed(collector, [chunk('a', 100), chunk('b', 100)]);
    expect(appended).toHaveLength(0);
    expect(collector.spooled).toBe(0);
    expect(collector.rest().toString()).toBe(`Received: x\r\n${'a'.repeat(100)}${'b'.repeat(100)}`);
  });

  it('writes the bytes to the spool whenever the threshold is reached, in order, keeping only the rest', async () => {
    const { spool, appended } = recordingSpool();
    const collector = new BodyCollector(Buffer.from('H'), { threshold: 1000, maxSize: 100_000 }, spool);
    await feed(collector, [chunk('a', 600), chunk('b', 600), chunk('c', 600), chunk('d', 300)]);
    expect(appended.map((part) => part.length)).toEqual([1201]);
    expect(collector.spooled).toBe(1201);
    expect(collector.rest().toString()).toBe('c'.repeat(600) + 'd'.repeat(300));
    const whole = Buffer.concat([...appended, collector.rest()]).toString();
    expect(whole).toBe(`H${'a'.repeat(600)}${'b'.repeat(600)}${'c'.repeat(600)}${'d'.repeat(300)}`);
  });

  it('asks the reader to wait while a write to the spool is under way, and only then', () => {
    const { spool } = recordingSpool();
    const collector = new BodyCollector(Buffer.alloc(0), { threshold: 1000, maxSize: 100_000 }, spool);
    expect(collector.add(chunk('a', 999))).toBeUndefined();
    expect(collector.add(chunk('b', 1))).toBeInstanceOf(Promise);
  });

  it('keeps no byte past the size limit, however much the client sends', async () => {
    const { spool, appended } = recordingSpool();
    const collector = new BodyCollector(Buffer.alloc(0), { threshold: 1000, maxSize: 1500 }, spool);
    await feed(
      collector,
      Array.from({ length: 100 }, () => chunk('x', 500)),
    );
    const kept = appended.reduce((sum, part) => sum + part.length, 0) + collector.rest().length;
    expect(kept).toBeLessThanOrEqual(1500);
    expect(collector.overflowed).toBe(true);
  });

  it('reports a failed spool write, keeps nothing after it, and discards what was spooled', async () => {
    const { spool, discarded } = recordingSpool(1);
    const collector = new BodyCollector(Buffer.alloc(0), { threshold: 100, maxSize: 100_000 }, spool);
    await feed(collector, [chunk('a', 100), chunk('b', 100), chunk('c', 100)]);
    expect(String(collector.failed)).toMatch(/OOM/);
    expect(collector.rest()).toHaveLength(0);
    await collector.discard();
    expect(discarded()).toBe(1);
  });

  it('keeps the first 64 KiB of a spooled message, where its header fields are', async () => {
    const { spool } = recordingSpool();
    const collector = new BodyCollector(Buffer.from('Message-ID: <a@b>\r\n'), { threshold: 1000, maxSize: 1e6 }, spool);
    await feed(
      collector,
      Array.from({ length: 200 }, () => chunk('x', 1000)),
    );
    expect(collector.spooled).toBeGreaterThan(0);
    expect(collector.start().length).toBe(64 * 1024);
    expect(collector.start().toString().startsWith('Message-ID: <a@b>')).toBe(true);
  });
});

// What one retained copy (the safety net, src/repositories/retained-copies.ts) costs in Redis, for three kinds of message.
//
//   npm run bench:retention   (RETAIN_COUNT=500)
//
// Starts its own redis-server (temp dir, no maxmemory), then for each kind stores RETAIN_COUNT copies
// through RetainedMail.store exactly as delivery does (gzip, one script per copy) under a fresh
// store id, and prints per copy: the message size, the stored bytes counted against the budget
// (gzip body + metadata JSON), MEMORY USAGE of the entry hash (SAMPLES 0), the index's MEMORY
// USAGE divided by the count, and INFO used_memory growth divided by the count (what Redis really
// spent, allocator rounding included). redis-server is stopped and the temp dir removed at the end.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createKeys } from '../src/queue/keys.js';
import { newQueueId } from '../src/queue/queue-id.js';
import { encodeBody } from '../src/queue/body-codec.js';
import { RetainedMail } from '../src/repositories/retained-copies.js';
import { receivedHeader } from '../src/smtp/received-header.js';
import { EmbeddedRedis } from '../src/redis/embedded.js';

const COUNT = Number(process.env.RETAIN_COUNT ?? 500);
const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they ' +
  'you were her she there been one all we their has would when if so no what up can out other more into time ' +
  'meeting invoice attached please regards thanks order delivery account update schedule project report ' +
  'tomorrow monday friday customer support team review budget quarter server mailbox storage replica restore'
).split(' ');

/** Plain text of `size` bytes from common words (compresses like prose, about 3:1). */
function prose(size: number): string {
  const lines: string[] = [];
  let length = 0;
  while (length < size) {
    const words = Array.from({ length: 12 }, () => WORDS[randomBytes(1)[0]! % WORDS.length]);
    const line = `${words.join(' ')}\r\n`;
    lines.push(line);
    length += line.length;
  }
  return lines.join('').slice(0, size);
}

function headers(subject: string): string {
  const id = `${randomBytes(8).toString('hex')}@sender.example`;
  return (
    `From: Someone <someone@sender.example>\r\nTo: <user@example.com>\r\nSubject: ${subject}\r\n` +
    `Date: ${new Date().toUTCString()}\r\nMessage-ID: <${id}>\r\nMIME-Version: 1.0\r\n`
  );
}

const KINDS: Record<string, () => string> = {
  '5 KB text': () => `${headers('text')}Content-Type: text/plain\r\n\r\n${prose(4700)}`,
  '100 KB text': () => `${headers('long text')}Content-Type: text/plain\r\n\r\n${prose(99_500)}`,
  '100 KB with attachment': () => {
    const attachment = randomBytes(72_000).toString('base64').replace(/.{76}/g, '$&\r\n');
    return (
      `${headers('attachment')}Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n` +
      `Content-Type: text/plain\r\n\r\n${prose(1500)}\r\n--b\r\nContent-Type: application/pdf\r\n` +
      `Content-Transfer-Encoding: base64\r\n\r\n${attachment}\r\n--b--\r\n`
    );
  },
};

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
}

async function measure(redis: Redis, retained: RetainedMail, kind: string, make: () => string, store: string) {
  const keys = createKeys('hf');
  const settings = { enabled: true, period: 48 * 3600_000, budget: 10 * 1024 ** 3 };
  const before = await usedMemory(redis);
  let size = 0;
  for (let index = 0; index < COUNT; index++) {
    const queueId = newQueueId();
    const header = receivedHeader({
      helo: 'client.example',
      clientHostname: 'client.example',
      clientAddress: '192.0.2.1',
      hostname: 'mx.example.net',
      protocol: 'ESMTP',
      queueId,
      recipient: 'user@example.com',
      date: new Date(),
    });
    const body = Buffer.from(header + make(), 'latin1');
    size += body.length;
    const delivery = {
      queueId,
      mailstore: store,
      sender: 'someone@sender.example',
      recipients: ['user@example.com'],
      messageId: `${queueId.toLowerCase()}@sender.example`,
      size: body.length,
      deliveredAt: Date.now(),
    };
    // A copy is made inside Redis from the queued body: queue it as reception does, then drop it.
    const stored = await encodeBody(body, 'gzip');
    const copy = keys.jobBody(store, queueId);
    await redis.set(copy, stored);
    const job = { jobId: queueId, ownCopy: true };
    const { outcome } = await retained.store(`${queueId}.1`, delivery, job, stored.length, settings);
    await redis.del(copy);
    if (outcome !== 'kept') throw new Error(`copy not kept: ${outcome}`);
  }
  const grown = (await usedMemory(redis)) - before;
  const status = await retained.status(store);
  const entries = await redis.keys(`${keys.retainedEntry(store, '')}*`);
  let entryUsage = 0;
  for (const key of entries) entryUsage += Number(await redis.memory('USAGE', key, 'SAMPLES', 0));
  const indexUsage = Number(await redis.memory('USAGE', keys.retainedIndex(store), 'SAMPLES', 0));
  const per = (value: number) => Math.round(value / COUNT);
  return {
    kind,
    message: per(size),
    counted: per(status.bytes),
    entry: per(entryUsage),
    index: per(indexUsage),
    usedMemory: per(grown),
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-retention-bench-'));
  const server = new EmbeddedRedis({ dir, maxmemory: 0, supervise: false });
  await server.start();
  const redis = new Redis(server.location.url);
  try {
    const retained = new RetainedMail(redis, createKeys('hf'), 10_000);
    const rows = [];
    let number = 0;
    for (const [kind, make] of Object.entries(KINDS))
      rows.push(await measure(redis, retained, kind, make, `s${number++}`));
    console.log(
      `${COUNT} copies of each kind; bytes per copy (Redis ${(await redis.info('server')).match(/redis_version:(\S+)/)?.[1]})`,
    );
    console.log(
      '| message | size | counted against the budget | entry MEMORY USAGE | index share | used_memory growth |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const row of rows) {
      console.log(
        `| ${row.kind} | ${row.message} | ${row.counted} | ${row.entry} | ${row.index} | ${row.usedMemory} |`,
      );
    }
  } finally {
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

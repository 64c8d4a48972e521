// Loads a store's backlog for bench/status-scale.ts: many concurrent enqueueMessage calls, no SMTP.
import { randomBytes } from 'node:crypto';
import { enqueueMessage, type EnqueueOptions } from '../src/queue/enqueue.js';
import { newQueueId } from '../src/queue/queue-id.js';
import type { MailQueues } from '../src/queue/queues.js';
import type { Trace } from '../src/repositories/trace.js';
import type { BodyCompression } from '../src/queue/body-codec.js';
import { receivedHeader } from '../src/smtp/received-header.js';
import { fixed, ownCpuMs, processCpuMs } from './lib.js';
import { benchMessage } from './smtp-latency.js';

export const MAILSTORE = 'store1';
const SENDER = 'bench@example.org';
const RECIPIENT = 'user@example.com';
/** More failed commits than this and the load stops: something is wrong, not a moment of slowness. */
const MAX_FAILURES = 1000;

/**
 * `size` bytes of 78-byte lines (76 + CRLF) of base64 from random bytes, like an attachment:
 * incompressible, where smtp-source's repeated letters shrink about 50 times in the AOF's RDB part.
 */
function randomLines(size: number): string {
  const text = randomBytes(Math.ceil((size * 3) / 4)).toString('base64');
  const lines: string[] = [];
  let length = 0;
  let offset = 0;
  for (; length + 78 <= size; offset += 76, length += 78) lines.push(text.slice(offset, offset + 76));
  if (size - length >= 2) lines.push(text.slice(offset, offset + size - length - 2));
  return lines.map((line) => `${line}\r\n`).join('');
}

/** Payload kinds: smtp-source's text (bench/smtp-latency.ts), or random base64 lines. */
export type PayloadKind = 'text' | 'random';

/**
 * The message as smtp-server hands it to the DATA stage, without the final dot: headers and
 * `size` bytes of payload. One payload serves every message (only the Received: header differs).
 */
export function messagePayload(size: number, kind: PayloadKind): Buffer {
  if (kind === 'text')
    return Buffer.from(benchMessage(SENDER, RECIPIENT, size, 'status at scale').slice(0, -3), 'latin1');
  const headers = benchMessage(SENDER, RECIPIENT, 0, 'status at scale').slice(0, -3);
  return Buffer.from(headers + randomLines(size), 'latin1');
}

/** What reception stores (src/smtp/data.ts): its Received: header, then the message. */
function storedBody(queueId: string, payload: Buffer): Buffer {
  const header = receivedHeader({
    helo: 'scale.bench.test',
    clientHostname: 'localhost',
    clientAddress: '127.0.0.1',
    hostname: 'mx.bench.test',
    protocol: 'ESMTP',
    queueId,
    recipient: RECIPIENT,
    date: new Date(),
  });
  return Buffer.concat([Buffer.from(header, 'latin1'), payload]);
}

export interface LoadOptions {
  queues: MailQueues;
  count: number;
  /** Messages in flight at once. */
  producers: number;
  payload: Buffer;
  timeoutMs: number;
  redisPid: number;
  /** Called every 10 s; its text ends the progress line. */
  progress: () => Promise<string>;
  log: (line: string) => void;
  /** Records each message's `accepted` trace event with it, as SMTP reception does. */
  trace?: Trace;
  /** How bodies are stored (default none, as enqueueMessage's default). */
  compression?: BodyCompression;
  /** The mailstore the messages are for (default MAILSTORE). */
  mailstore?: string;
}

export interface LoadFigures {
  committed: number;
  /** Commits that failed (a sender would get 451 and retry); each was retried with a new queue id. */
  failed: number;
  firstErrors: string[];
  /** Bytes of the stored bodies. */
  bytes: number;
  wallMs: number;
  redisCpuMs: number;
  benchCpuMs: number;
}

/**
 * Commits `count` messages for MAILSTORE with enqueueMessage, `producers` at a time. Each body is
 * built when it is sent and dropped once committed, so the process holds only what is in flight.
 */
export async function loadBacklog(options: LoadOptions): Promise<LoadFigures> {
  const enqueueOptions: EnqueueOptions = {
    timeoutMs: options.timeoutMs,
    replicas: 0,
    replicaTimeoutMs: 0,
    trace: options.trace,
    compression: options.compression,
  };
  const recipients = new Map([[options.mailstore ?? MAILSTORE, [RECIPIENT]]]);
  const figures: LoadFigures = {
    committed: 0,
    failed: 0,
    firstErrors: [],
    bytes: 0,
    wallMs: 0,
    redisCpuMs: 0,
    benchCpuMs: 0,
  };
  let claimed = 0;
  const commitOne = async () => {
    for (;;) {
      const queueId = newQueueId();
      const body = storedBody(queueId, options.payload);
      const message = { queueId, sender: SENDER, recipientsByMailstore: recipients, body, client: '127.0.0.1' };
      try {
        await enqueueMessage(options.queues, { ...message, receivedAt: Date.now() }, enqueueOptions);
        figures.committed++;
        figures.bytes += body.length;
        return;
      } catch (error) {
        figures.failed++;
        if (figures.firstErrors.length < 10) figures.firstErrors.push(String(error));
        if (figures.failed > MAX_FAILURES) throw error;
      }
    }
  };
  const produce = async () => {
    while (claimed < options.count) {
      claimed++;
      await commitOne();
    }
  };

  const redis0 = processCpuMs(options.redisPid);
  const bench0 = ownCpuMs().self;
  const started = performance.now();
  let last = { at: started, committed: 0 };
  let reporting = false;
  const timer = setInterval(() => {
    if (reporting) return;
    reporting = true;
    const now = performance.now();
    const rate = (figures.committed - last.committed) / ((now - last.at) / 1000);
    last = { at: now, committed: figures.committed };
    void options
      .progress()
      .catch((error: unknown) => `progress failed: ${String(error)}`)
      .then((text) => {
        options.log(
          `${figures.committed} committed after ${fixed((now - started) / 1000, 0)} s, ` +
            `${fixed(rate, 0)} msgs/s in the last 10 s, ${figures.failed} failed; ${text}`,
        );
      })
      .finally(() => (reporting = false));
  }, 10_000);
  try {
    await Promise.all(Array.from({ length: options.producers }, produce));
  } finally {
    clearInterval(timer);
  }
  figures.wallMs = performance.now() - started;
  figures.redisCpuMs = processCpuMs(options.redisPid) - redis0;
  figures.benchCpuMs = ownCpuMs().self - bench0;
  return figures;
}

// Floor: what nodemailer alone costs to deliver over LMTP. The counting LMTP sink
// (bench/lmtp-sink.ts, smtp-server with lmtp: true) runs as a child process, so that this
// process's own CPU (process.cpuUsage(), user + system) is the sender's alone. One pooled transport
// (lmtp, pool, maxConnections 20, maxMessages Infinity, no TLS) and 20 concurrent sends of a raw
// 5 KB or 100 KB message, two ways:
//   - sendMail({ envelope, raw }): nodemailer's public API (a MIME node around the raw bytes);
//   - pool.send(prepared): the SMTPPool fed a prepared message, as src/delivery/transport.ts does.
// Each cell warms up first. Figures: messages/s and this process's CPU ms per message.
//
//   node --import tsx bench/floors/nodemailer.ts     (BENCH_FLOOR_MESSAGES=N per cell, default 3000)
import { Readable } from 'node:stream';
import { createTransport } from 'nodemailer';
import SMTPPool from 'nodemailer/lib/smtp-pool';
import { Sink } from '../lib.js';
import {
  type FloorRow,
  cpuMsSince,
  floorMessages,
  logRow,
  runConcurrently,
  runFloor,
  warmupMessages,
} from './common.js';

const CONCURRENCY = 20;
const SIZES = [5120, 102400];
const envelope = { from: 'a@example.org', to: ['b@example.com'] };

/** A plain message of `size` bytes: a few headers, then lines of 76 characters. */
function rawMessage(size: number): Buffer {
  const head = `From: <${envelope.from}>\r\nTo: <${envelope.to[0]}>\r\nSubject: floor\r\nMessage-ID: <floor@example.org>\r\n\r\n`;
  const line = `${'x'.repeat(76)}\r\n`;
  return Buffer.from((head + line.repeat(Math.ceil(size / line.length))).slice(0, size - 2) + '\r\n');
}

/** A message as the pool reads it (src/delivery/transport.ts): envelope and bytes, no MIME node. */
function prepared(raw: Buffer): Parameters<SMTPPool['send']>[0] {
  const message = {
    getEnvelope: () => ({ ...envelope, to: [...envelope.to] }),
    messageId: () => '',
    getHeader: () => '',
    createReadStream: () => Readable.from([raw], { objectMode: false }),
  };
  return { data: {}, message } as unknown as Parameters<SMTPPool['send']>[0];
}

type Mode = 'sendMail raw' | 'pool.send prepared';

/** One pooled transport to the sink, and how a message goes through it in `mode`. */
function sender(mode: Mode, port: number, raw: Buffer): { send: () => Promise<unknown>; close: () => void } {
  const options = {
    host: '127.0.0.1',
    port,
    lmtp: true,
    pool: true as const,
    maxConnections: CONCURRENCY,
    maxMessages: Infinity,
    name: 'mx.floor.test',
    secure: false,
    ignoreTLS: true,
    logger: false,
  };
  if (mode === 'sendMail raw') {
    const transport = createTransport(options);
    return { send: () => transport.sendMail({ envelope, raw }), close: () => transport.close() };
  }
  const pool = new SMTPPool(options);
  const send = () =>
    new Promise((resolve, reject) =>
      pool.send(prepared(raw), (error, info) => (error ? reject(error) : resolve(info))),
    );
  return { send, close: () => pool.close() };
}

await runFloor('nodemailer', async (processes) => {
  const sink = await Sink.start(processes);
  const count = floorMessages(3000);
  const rows: FloorRow[] = [];
  for (const size of SIZES) {
    for (const mode of ['sendMail raw', 'pool.send prepared'] as const) {
      const { send, close } = sender(mode, sink.lmtpPort, rawMessage(size));
      try {
        await runConcurrently(warmupMessages(count), CONCURRENCY, send);
        await sink.reset();
        const cpu = process.cpuUsage();
        const start = performance.now();
        await runConcurrently(count, CONCURRENCY, send);
        const wallMs = performance.now() - start;
        const cpuMs = cpuMsSince(cpu);
        const { messages } = await sink.stats();
        if (messages !== count) throw new Error(`the sink counted ${messages} of ${count} messages`);
        const row: FloorRow = {
          floor: 'nodemailer',
          size,
          mode: `${CONCURRENCY} sends, ${mode}`,
          messages: count,
          perSecond: (count * 1000) / wallMs,
          nodeCpuMsPerMessage: cpuMs / count,
        };
        logRow(row);
        rows.push(row);
      } finally {
        close();
      }
    }
  }
  return rows;
});

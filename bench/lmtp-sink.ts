// A counting LMTP sink for the benchmark: accepts every message and counts it.
//
//   node --import tsx bench/lmtp-sink.ts [LMTP_PORT] [HTTP_PORT]
//   (or SINK_PORT / SINK_HTTP_PORT in the environment; 0 or nothing picks a free port)
//
// It listens for LMTP on 127.0.0.1:LMTP_PORT and for HTTP on 127.0.0.1:HTTP_PORT, and prints one
// JSON line {"lmtpPort":..,"httpPort":..} on stdout once both listen.
//   GET  /stats  -> {"messages":n,"recipients":n,"bytes":n,"firstAt":ms,"lastAt":ms}  (epoch ms, null before any)
//   POST /reset  -> zeroes the counters (answers the stats from before the reset)
// SIGTERM or SIGINT closes both listeners and exits.
import { createServer } from 'node:http';
import { SMTPServer } from 'smtp-server';

interface Stats {
  messages: number;
  recipients: number;
  bytes: number;
  firstAt: number | null;
  lastAt: number | null;
}

const fresh = (): Stats => ({ messages: 0, recipients: 0, bytes: 0, firstAt: null, lastAt: null });
let stats = fresh();

function portFrom(argument: string | undefined, variable: string | undefined): number {
  const value = Number(argument ?? variable ?? 0);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`not a port: ${argument ?? variable}`);
  return value;
}

const lmtpPort = portFrom(process.argv[2], process.env.SINK_PORT);
const httpPort = portFrom(process.argv[3], process.env.SINK_HTTP_PORT);

const lmtp = new SMTPServer({
  lmtp: true,
  name: 'sink.bench.test',
  banner: 'Holdfast bench sink',
  authOptional: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  logger: false,
  onData: (stream, session, callback) => {
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    stream.on('end', () => {
      const now = Date.now();
      const recipients = session.envelope.rcptTo.length;
      stats.messages++;
      stats.recipients += recipients;
      stats.bytes += bytes;
      stats.firstAt ??= now;
      stats.lastAt = now;
      // LMTP: one reply per recipient.
      callback(
        null,
        Array.from({ length: recipients }, () => 'Ok delivered'),
      );
    });
  },
});
lmtp.on('error', (error) => process.stderr.write(`sink: lmtp error: ${error.message}\n`));

const http = createServer((request, response) => {
  const body = JSON.stringify(stats);
  if (request.method === 'POST' && request.url === '/reset') stats = fresh();
  else if (request.url !== '/stats') {
    response.writeHead(404).end();
    return;
  }
  response.writeHead(200, { 'content-type': 'application/json' }).end(body);
});

await new Promise<void>((resolve) => lmtp.listen(lmtpPort, '127.0.0.1', () => resolve()));
await new Promise<void>((resolve) => http.listen(httpPort, '127.0.0.1', () => resolve()));
const portOf = (address: ReturnType<typeof http.address>) =>
  typeof address === 'object' && address ? address.port : 0;
process.stdout.write(
  `${JSON.stringify({ lmtpPort: portOf(lmtp.server.address()), httpPort: portOf(http.address()) })}\n`,
);

const stop = () => {
  http.close();
  http.closeAllConnections();
  lmtp.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

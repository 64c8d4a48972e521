// Floor: what smtp-server alone costs to take mail in. This process is the server, set up as
// src/smtp/server.ts sets it up for a listener without TLS (no AUTH, no STARTTLS, reverse lookup of
// the client on, the greeting at once instead of smtp-server's fixed 100 ms pause, as
// src/smtp/greeting.ts does), with an onData that only drains the stream and answers 250.
// The load is `smtp-source -s SESSIONS -m MESSAGES -l SIZE [-d]` as a child process, so that this
// process's own CPU (process.cpuUsage(), user + system) is the server's alone.
//
// Cells: sizes 5120 and 102400 bytes, 1 and 20 sessions, one connection per message and reused
// connections (-d); each after a warm-up of the same kind. Figures: messages/s (smtp-source's wall
// time), server CPU ms per message, peak RSS (sampled every 20 ms).
//
//   node --import tsx bench/floors/smtp-server.ts     (BENCH_FLOOR_MESSAGES=N per cell, default 2000)
import { existsSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { runSmtpSource, type StartedProcesses } from '../lib.js';
import { type FloorRow, cpuMsSince, floorMessages, logRow, runFloor, sampleRss, warmupMessages } from './common.js';

const SMTP_SOURCE = process.env.SMTP_SOURCE ?? '/usr/sbin/smtp-source';
const SIZES = [5120, 102400];
const SESSIONS = [1, 20];

/** smtp-server's own session start, with the greeting sent at once (src/smtp/greeting.ts with a 0 ms pause). */
class ImmediateGreeting extends SMTPConnection {
  override init(): void {
    (this as unknown as { _setListeners(callback: () => void): void })._setListeners(() => {
      setTimeout(() => this.connectionReady(), 0).unref();
    });
  }
}

let received = 0;

const smtp = new SMTPServer({
  name: 'mx.floor.test',
  banner: 'floor ESMTP',
  size: 50 * 2 ** 20,
  rejectOversized: true,
  hideENHANCEDSTATUSCODES: false,
  hideDSN: true,
  hideSTARTTLS: true,
  disabledCommands: ['AUTH', 'STARTTLS'],
  authOptional: true,
  maxCommandLength: 2048,
  socketTimeout: 5 * 60_000,
  logger: false,
  onData: (stream, _session, callback) => {
    stream.on('data', () => undefined);
    stream.on('end', () => {
      received++;
      callback();
    });
    stream.resume();
  },
});

function startSession(socket: Socket): void {
  const connection = new ImmediateGreeting(smtp, socket, {});
  smtp.connections.add(connection);
  connection.on('error', (error: Error) => smtp._onError(error));
  connection.on('connect', (data: Parameters<SMTPServer['_onClientConnect']>[0]) => smtp._onClientConnect(data));
  connection.init();
}

async function measure(processes: StartedProcesses, port: number): Promise<FloorRow[]> {
  const messages = floorMessages(2000);
  const rows: FloorRow[] = [];
  for (const size of SIZES) {
    for (const sessions of SESSIONS) {
      for (const reuseConnections of [false, true]) {
        const load = { binary: SMTP_SOURCE, port, sessions, size, reuseConnections };
        const addresses = { from: 'a@example.org', to: 'b@example.com' };
        await runSmtpSource(processes, { ...load, ...addresses, messages: warmupMessages(messages) });
        received = 0;
        const rss = sampleRss();
        const cpu = process.cpuUsage();
        const { wallMs } = await runSmtpSource(processes, { ...load, ...addresses, messages });
        const cpuMs = cpuMsSince(cpu);
        const peakRssMb = rss.stop();
        if (received !== messages) throw new Error(`${received} of ${messages} messages received`);
        const mode = `${sessions} session${sessions > 1 ? 's' : ''}, ${reuseConnections ? 'reused (-d)' : 'conn/msg'}`;
        const row: FloorRow = {
          floor: 'smtp-server',
          size,
          mode,
          messages,
          perSecond: (messages * 1000) / wallMs,
          nodeCpuMsPerMessage: cpuMs / messages,
          peakRssMb,
        };
        logRow(row);
        rows.push(row);
      }
    }
  }
  return rows;
}

await runFloor('smtp-server', async (processes) => {
  if (!existsSync(SMTP_SOURCE)) throw new Error(`${SMTP_SOURCE} not found (Debian: apt install postfix)`);
  smtp.on('error', (error) => process.stderr.write(`smtp-server: ${error.message}\n`));
  const listener = createServer(startSession);
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const address = listener.address();
  if (typeof address !== 'object' || !address) throw new Error('no listener address');
  try {
    return await measure(processes, address.port);
  } finally {
    listener.close();
  }
});

// Holdfast's memory while many large messages arrive at once, and while they are delivered.
//
//   npm run bench:memory   (MEM_SESSIONS=100 MEM_SIZE=10485760)
//
// It starts the counting LMTP sink and `node bin/holdfast.js start -c CONFIG` (embedded Redis,
// maxMessageSize 50 MB) as child processes, sends a few small messages to warm up, holds the store,
// then:
//   1. intake: MEM_SESSIONS (100) sessions at once each send one message of MEM_SIZE bytes (10 MB):
//      the peak RSS (VmHWM) of the Holdfast process over the pass, sampled RSS and the replies;
//   2. delivery: the peak is reset (/proc/PID/clear_refs), the store released, and the peak RSS
//      measured again until the sink has every message (the store's concurrency, 20, bounds it).
// Each figure is printed beside the bound docs/reliability.md gives for it. Every child is stopped
// by PID at the end and the temp dir removed (BENCH_KEEP=1 keeps it).
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  StartedProcesses,
  fixed,
  holdfastCli,
  makeTempDir,
  numberSetting,
  procStatusKb,
  removeTempDir,
  runBenchmark,
  startSinkAndHoldfast,
} from './lib.js';

const settings = {
  sessions: numberSetting('MEM_SESSIONS', 100),
  size: numberSetting('MEM_SIZE', 10 * 1024 * 1024),
  concurrency: 20,
};
const STORE = 'sink';
const MB = 1024 * 1024;

const processes = new StartedProcesses('memory');
let tempDir: string | undefined;

/** Sends one message whose body is `body` (shared by every session, so the client holds it once); returns the final reply. */
async function sendLarge(port: number, number: number, body: Buffer): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  let buffer = '';
  let wake: (() => void) | undefined;
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    wake?.();
  });
  socket.on('close', () => wake?.());
  const reply = async (): Promise<string> => {
    for (;;) {
      const match = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(buffer);
      if (match) {
        buffer = buffer.slice(match[0].length);
        return match[0].trimEnd();
      }
      if (socket.destroyed) return `closed: ${buffer}`;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };
  const command = (line: string) => {
    socket.write(`${line}\r\n`);
    return reply();
  };
  try {
    await reply();
    await command('EHLO memory.bench.test');
    await command('MAIL FROM:<bench@example.org>');
    await command('RCPT TO:<user@example.com>');
    const data = await command('DATA');
    if (!data.startsWith('354')) return data;
    socket.write(`From: <bench@example.org>\r\nTo: <user@example.com>\r\nSubject: large ${number}\r\n\r\n`);
    socket.write(body);
    socket.write('.\r\n');
    const final = await reply();
    await command('QUIT');
    return final;
  } finally {
    socket.destroy();
  }
}

/** Lines of 76 letters and CRLF, `size` bytes in all. */
function largeBody(size: number): Buffer {
  const line = Buffer.from(`${'x'.repeat(76)}\r\n`);
  const body = Buffer.alloc(Math.floor(size / line.length) * line.length);
  for (let offset = 0; offset < body.length; offset += line.length) line.copy(body, offset);
  return body;
}

/** Samples the process's RSS every 50 ms while `work` runs; resolves with the highest sample (kB). */
async function sampleRss(pid: number, work: Promise<unknown>): Promise<number> {
  let highest = 0;
  let done = false;
  void work.finally(() => (done = true));
  while (!done) {
    highest = Math.max(highest, procStatusKb(pid, 'VmRSS'));
    await sleep(50);
  }
  return highest;
}

async function main(): Promise<void> {
  tempDir = makeTempDir('holdfast-memory-');
  const system = await startSinkAndHoldfast(processes, tempDir, {
    writtenBy: 'bench/intake-memory.ts',
    perIp: settings.sessions + 10,
    mailstore: STORE,
    concurrency: settings.concurrency,
  });
  const pid = system.holdfast.pid!;
  const body = largeBody(settings.size);
  for (let number = 0; number < 5; number++) await sendLarge(system.port, number, body.subarray(0, 78 * 128));
  await system.sink.waitFor(5);
  await system.sink.reset();
  await holdfastCli(processes, system.configPath, 'hold', STORE, '--reason', 'memory bench');
  const idleKb = procStatusKb(pid, 'VmRSS');

  writeFileSync(`/proc/${pid}/clear_refs`, '5');
  const started = performance.now();
  const sending = Promise.all(
    Array.from({ length: settings.sessions }, (_, number) => sendLarge(system.port, number, body)),
  );
  const intakeSampledKb = await sampleRss(pid, sending);
  const replies = await sending;
  const intakeMs = performance.now() - started;
  const intakePeakKb = procStatusKb(pid, 'VmHWM');
  const accepted = replies.filter((reply) => reply.startsWith('250')).length;
  const refused = replies.filter((reply) => !reply.startsWith('250'));

  writeFileSync(`/proc/${pid}/clear_refs`, '5');
  await holdfastCli(processes, system.configPath, 'release', STORE);
  const delivering = system.sink.waitFor(accepted);
  const deliverySampledKb = await sampleRss(pid, delivering);
  const deliveryPeakKb = procStatusKb(pid, 'VmHWM');

  const mb = (kb: number) => fixed(kb / 1024, 0);
  const sizeMb = settings.size / MB;
  const lines = [
    `memory: ${settings.sessions} sessions x ${fixed(sizeMb, 1)} MB at once, store concurrency ${settings.concurrency}`,
    `  idle RSS before:           ${mb(idleKb)} MB`,
    `  intake   peak RSS (VmHWM): ${mb(intakePeakKb)} MB (sampled ${mb(intakeSampledKb)} MB); ` +
      `${fixed((intakePeakKb - idleKb) / 1024 / settings.sessions, 2)} MB above idle per session; ` +
      `${accepted} accepted, ${refused.length} refused${refused.length ? ` (${refused[0]})` : ''}; ${fixed(intakeMs / 1000, 1)} s`,
    `  delivery peak RSS (VmHWM): ${mb(deliveryPeakKb)} MB (sampled ${mb(deliverySampledKb)} MB); ` +
      `${fixed((deliveryPeakKb - idleKb) / 1024 / settings.concurrency, 1)} MB above idle per concurrent delivery ` +
      `(${fixed(sizeMb, 1)} MB messages)`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await runBenchmark('memory', main, {
  onFailure: () => undefined,
  cleanUp: async () => {
    await processes.stopAll();
    if (tempDir) removeTempDir(tempDir, 'memory');
  },
});

// The pino root logger; components take child loggers bound with their context.
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/**
 * Log lines are written to stdout in batches of this many bytes, or every LOG_FLUSH_MS, whichever
 * comes first: a write system call per line cost 3 to 7 % of a busy process's CPU (two or three
 * lines a message). A SIGKILL loses at most the last LOG_FLUSH_MS of lines; a stop flushes them.
 */
const LOG_BUFFER_BYTES = 8 * 1024;
const LOG_FLUSH_MS = 100;

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'holdfast' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? bufferedStdout(),
  );
}

function bufferedStdout(): DestinationStream {
  const stream = pino.destination({ sync: false, minLength: LOG_BUFFER_BYTES });
  // With a callback, a flush after the stream closed reports instead of throwing.
  setInterval(() => stream.flush(() => undefined), LOG_FLUSH_MS).unref();
  return stream;
}

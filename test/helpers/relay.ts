// Starts a real Holdfast App for a test, wired to a test Redis and fake mailstores, capturing its logs.
import { App, type AppOptions } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/observability/logger.js';

export interface LogRecord {
  event?: string;
  level: string;
  msg: string;
  queueId?: string;
  mailstore?: string;
  [field: string]: unknown;
}

export interface TestRelay {
  app: App;
  port: number;
  config: Config;
  logs: LogRecord[];
  events(name: string): LogRecord[];
  stop(): Promise<void>;
}

export type Raw = Record<string, unknown>;

/** Deep-merges plain objects; arrays and scalars in `override` replace. */
export function merge(base: Raw, override: Raw): Raw {
  const result: Raw = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = result[key];
    const bothObjects = [value, current].every(
      (item) => typeof item === 'object' && item !== null && !Array.isArray(item),
    );
    result[key] = bothObjects ? merge(current as Raw, value as Raw) : value;
  }
  return result;
}

/**
 * A config for tests: domain example.com on store1 (unknown users refused), alice on store1,
 * bob on store2 (when there is one), one endpoint per store, fast retries. `overrides` is merged in.
 */
export function testConfig(
  redisUrl: string | undefined,
  storePorts: Record<string, number>,
  overrides: Raw = {},
): Config {
  const mailstores = Object.fromEntries(
    Object.entries(storePorts).map(([id, port]) => [
      id,
      {
        endpoints: [`127.0.0.1:${port}`],
        retry: '1s',
        concurrency: 4,
        trip: { probeInterval: '1s', maxProbeInterval: '2s' },
      },
    ]),
  );
  const users = Object.fromEntries(
    Object.entries({
      'alice@example.com': 'store1',
      'bob@example.com': 'store2',
      'carol@example.com': 'store1',
    }).filter(([, store]) => store in storePorts),
  );
  const raw = merge(
    {
      // With `listeners` in the overrides, the addresses are theirs (listener keeps what is node-wide).
      listener:
        'listeners' in overrides ? { hostname: 'mx.test' } : { host: '127.0.0.1', port: 0, hostname: 'mx.test' },
      limits: { timeouts: { enqueue: '2s' } },
      domains: { 'example.com': { mailstore: Object.keys(storePorts)[0], rejectUnknownUsers: true } },
      routing: { users },
      mailstores,
      redis: {
        ...(redisUrl === undefined ? {} : { url: redisUrl }),
        prefix: `hf${Math.random().toString(36).slice(2, 8)}`,
      },
      shutdown: { grace: '5s' },
      workers: { watchdogInterval: '2s' },
      admin: { port: 0 },
      log: { level: 'debug' },
    },
    overrides,
  );
  const result = validateConfig(raw, { baseDirectory: process.cwd() });
  if (!result.ok) throw new Error(`test config invalid:\n${result.problems.join('\n')}`);
  return result.config;
}

export async function startRelay(config: Config, options: AppOptions = {}): Promise<TestRelay> {
  const logs: LogRecord[] = [];
  const destination = { write: (line: string) => void logs.push(JSON.parse(line) as LogRecord) };
  const app = new App(config, createLogger('debug', destination), options);
  await app.start();
  return {
    app,
    port: app.smtpPort,
    config,
    logs,
    events: (name) => logs.filter((record) => record.event === name),
    stop: () => app.stop(),
  };
}

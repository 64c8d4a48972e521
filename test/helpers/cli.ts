// Runs the real holdfast binary against a test relay, through a config file naming its Redis.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { Config } from '../../src/config/schema.js';
import { endpointName } from '../../src/config/units.js';

const execute = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Writes a config file for operator commands: the relay's mailstores, domains and Redis, and its admin API. */
export function writeCliConfig(directory: string, relay: { config: Config; app: { adminPort: number } }): string {
  const relayConfig = relay.config;
  const file = join(directory, 'holdfast-cli.yaml');
  // The settings operator commands use (durations as milliseconds); the retry schedule is not one.
  const mailstores = Object.fromEntries(
    Object.entries(relayConfig.mailstores).map(([id, store]) => [
      id,
      {
        endpoints: store.endpoints.map(endpointName),
        concurrency: store.concurrency,
        rate: store.rate,
        lifetime: store.lifetime,
        ramp: store.ramp,
        trip: store.trip,
        guard: store.guard,
      },
    ]),
  );
  writeFileSync(
    file,
    stringify({
      domains: relayConfig.domains,
      mailstores,
      routing: { users: relayConfig.routing.users },
      redis: { url: relayConfig.redis.url, prefix: relayConfig.redis.prefix },
      admin: { host: '127.0.0.1', port: relay.app.adminPort, token: relayConfig.admin.token },
    }),
  );
  return file;
}

export function holdfastCli(configFile: string, ...args: string[]): Promise<CliResult> {
  return execute('node', ['bin/holdfast.js', ...args, '--config', configFile]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: CliResult) => error,
  );
}

// What every operator command shares: where the admin API is, its token, printing, and exit codes.
import type { Command } from 'commander';
import type { Config } from '../config/schema.js';
import { ApiClient, ApiRequestError, ApiUnreachableError } from './client.js';

/**
 * Exit codes (sysexits.h): 0 done; 65 EX_DATAERR the request was refused (bad input, unknown
 * store, not allowed now); 69 EX_UNAVAILABLE the admin API cannot be reached; 75 EX_TEMPFAIL
 * Holdfast cannot reach its Redis; 77 EX_NOPERM wrong or missing token; 78 EX_CONFIG bad config
 * file; 1 anything else.
 */
export const EXIT_FAILURE = 1;
export const EXIT_DATA = 65;
export const EXIT_UNAVAILABLE = 69;
export const EXIT_TEMPFAIL = 75;
export const EXIT_NOPERM = 77;

export type ConfigLoader = (path: string) => Config;

/** Input the CLI itself refuses before asking the API. */
export class CliInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliInputError';
  }
}

export interface CommonOptions {
  config: string;
  url?: string;
  json?: boolean;
}

/** The options every operator command takes: where to find the API, and --json. */
export function apiOptions(command: Command, defaultConfig: string): Command {
  return command
    .option('--json', 'machine-readable output')
    .option('--url <url>', 'the admin API (default: $HOLDFAST_ADMIN_URL, else admin.host:admin.port of the config)')
    .option('-c, --config <file>', 'configuration file (for the admin address and token)', defaultConfig);
}

/** The API's address and token: --url or $HOLDFAST_ADMIN_URL, else the config file's admin section. */
export function clientFor(options: CommonOptions, loadConfig: ConfigLoader): ApiClient {
  const url = options.url ?? process.env.HOLDFAST_ADMIN_URL;
  const envToken = process.env.HOLDFAST_ADMIN_TOKEN || undefined;
  if (url !== undefined) return new ApiClient(url.replace(/\/+$/, ''), envToken);
  const { admin } = loadConfig(options.config);
  const host = admin.host === '0.0.0.0' ? '127.0.0.1' : admin.host === '::' ? '::1' : admin.host;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return new ApiClient(`http://${hostPart}:${admin.port}`, envToken ?? admin.token);
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof CliInputError) return EXIT_DATA;
  if (error instanceof ApiUnreachableError) return EXIT_UNAVAILABLE;
  if (error instanceof ApiRequestError) {
    if (error.status === 401 || error.status === 429) return EXIT_NOPERM;
    if (error.status === 503) return EXIT_TEMPFAIL;
    if (error.status >= 400 && error.status < 500) return EXIT_DATA;
  }
  return EXIT_FAILURE;
}

/**
 * Wraps a command's action: makes the client, runs, prints the text (or the JSON with --json),
 * and turns errors into a message on stderr and an exit code.
 */
export function apiAction<O extends CommonOptions>(
  loadConfig: ConfigLoader,
  run: (client: ApiClient, options: O, positional: string[]) => Promise<{ text: string; json: unknown }>,
) {
  return async (...args: unknown[]): Promise<void> => {
    const options = args.at(-2) as O;
    // A variadic argument arrives as an array among the positional ones.
    const positional = (args.slice(0, -2) as Array<string | string[]>).flat();
    try {
      const client = clientFor(options, loadConfig);
      const { text, json } = await run(client, options, positional);
      process.stdout.write(`${options.json ? JSON.stringify(json, null, 2) : text}\n`);
    } catch (error) {
      const hint =
        error instanceof ApiRequestError && error.status === 401
          ? ' (set HOLDFAST_ADMIN_TOKEN, or admin.token/admin.tokenFile in the config)'
          : '';
      process.stderr.write(`holdfast: ${(error as Error).message}${hint}\n`);
      process.exitCode = exitCodeFor(error);
    }
  };
}

/** The operator's name for the audit trail: --by, else the login that ran the command. */
export function operatorName(by: string | undefined): string {
  return by ?? process.env.SUDO_USER ?? process.env.USER ?? 'operator';
}

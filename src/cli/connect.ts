// Opens what an operator command needs: the config, a Redis connection, and closes them after.
import type { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import { createRedis, redisTarget } from '../redis/connections.js';
import { embeddedSocketPath } from '../redis/embedded.js';

/** Exit codes: 0 done, 1 Redis or runtime failure, 65 (EX_DATAERR) refused input, 78 bad config. */
export const EXIT_FAILURE = 1;
export const EXIT_DATA = 65;

export type ConfigLoader = (path: string) => Config;

export interface OperatorContext<O> {
  config: Config;
  redis: Redis;
  options: O;
}

/**
 * Wraps a command's action: loads the config named by --config, connects to its Redis (the
 * managed one through its socket), prints what the action returns, and maps errors to exit codes.
 */
export function operatorAction<O extends { config: string }>(
  loadConfig: ConfigLoader,
  isInputError: (error: unknown) => boolean,
  action: (context: OperatorContext<O>, ...positional: string[]) => Promise<string>,
) {
  return async (...args: unknown[]): Promise<void> => {
    const options = args.at(-2) as O;
    const positional = args.slice(0, -2) as string[];
    const config = loadConfig(options.config);
    const embedded = `unix://${embeddedSocketPath(config.redis.embedded.dir)}`;
    const redis = createRedis(redisTarget(config, embedded), 'control', 5000);
    try {
      process.stdout.write(`${await action({ config, redis, options }, ...positional)}\n`);
    } catch (error) {
      process.stderr.write(`holdfast: ${(error as Error).message}\n`);
      process.exitCode = isInputError(error) ? EXIT_DATA : EXIT_FAILURE;
    } finally {
      redis.disconnect();
    }
  };
}

/** The operator's name for the audit trail: --by, else the login that ran the command. */
export function operatorName(by: string | undefined): string {
  return by ?? process.env.SUDO_USER ?? process.env.USER ?? 'operator';
}

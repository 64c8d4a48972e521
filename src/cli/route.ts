// `holdfast route ...`: manage the routing table in Redis from the command line.
import type { Command } from 'commander';
import type { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import { RouteAdmin, RouteAdminError } from '../admin/routes.js';
import { createRedis, redisTarget } from '../redis/connections.js';
import { embeddedSocketPath } from '../redis/embedded.js';
import { RouteTable } from '../routing/route-table.js';
import { createKeys } from '../queue/keys.js';

/** Exit codes: 0 done, 1 Redis or runtime failure, 65 (EX_DATAERR) bad input, 78 bad config. */
export const EXIT_DATA = 65;

export function registerRouteCommands(
  program: Command,
  loadConfig: (path: string) => Config,
  defaultConfig: string,
): void {
  const route = program.command('route').description('look up and change the per-user routing table held in Redis');
  const withAdmin = (action: (admin: RouteAdmin, ...args: string[]) => Promise<string>) => {
    return async (...args: unknown[]) => {
      const command = args.at(-1) as Command;
      const { config: path } = command.optsWithGlobals<{ config: string }>();
      const config = loadConfig(path);
      const embedded = `unix://${embeddedSocketPath(config.redis.embedded.dir)}`;
      const redis: Redis = createRedis(redisTarget(config, embedded), 'control', 5000);
      try {
        const table = new RouteTable(redis, createKeys(config.redis.prefix), 5000);
        const strings = args.filter((arg): arg is string => typeof arg === 'string');
        process.stdout.write(`${await action(new RouteAdmin(config, table), ...strings)}\n`);
      } catch (error) {
        process.stderr.write(`holdfast route: ${(error as Error).message}\n`);
        process.exitCode = error instanceof RouteAdminError ? EXIT_DATA : 1;
      } finally {
        redis.disconnect();
      }
    };
  };
  route
    .command('get <address>')
    .description('show where an address is routed and why')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .action(
      withAdmin(async (admin, address) => {
        const { effective, table, config } = await admin.explain(address);
        const outcome = effective.kind === 'mailstore' ? effective.mailstore : `(${effective.kind})`;
        return `${address.toLowerCase()} -> ${outcome}   table: ${table ?? '-'}   config: ${config ?? '-'}`;
      }),
    );
  route
    .command('set <address> <mailstore>')
    .description('route an address to a mailstore (wins over the config file)')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .action(
      withAdmin(async (admin, address, mailstore) => {
        await admin.set(address, mailstore);
        return `${address.toLowerCase()} -> ${mailstore}`;
      }),
    );
  route
    .command('delete <address>')
    .description('remove an address from the Redis table (the config file applies again)')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .action(
      withAdmin(async (admin, address) => {
        await admin.remove(address);
        return `${address.toLowerCase()} removed from the routing table`;
      }),
    );
  route
    .command('import <file>')
    .description('bulk-load "address,mailstore" lines; --replace swaps the whole table atomically')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .option('--replace', 'replace the table instead of adding to it')
    .action(async (file: string, options: { replace?: boolean }, command: Command) => {
      await withAdmin(async (admin) => {
        const { loaded, tableSize } = await admin.importFile(file, { replace: options.replace === true });
        return `loaded ${loaded} entries; the table now holds ${tableSize}`;
      })(command);
    });
}

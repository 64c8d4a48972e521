// `holdfast route ...`: manage the routing table in Redis from the command line.
import type { Command } from 'commander';
import { RouteAdmin, RouteAdminError } from '../admin/routes.js';
import { RouteTable } from '../routing/route-table.js';
import { createKeys } from '../queue/keys.js';
import { operatorAction, type ConfigLoader, type OperatorContext } from './connect.js';

export function registerRouteCommands(program: Command, loadConfig: ConfigLoader, defaultConfig: string): void {
  const route = program.command('route').description('look up and change the per-user routing table held in Redis');
  const admin = ({ config, redis }: OperatorContext<{ config: string }>) =>
    new RouteAdmin(config, new RouteTable(redis, createKeys(config.redis.prefix), 5000));
  const action = <O extends { config: string }>(
    run: (context: OperatorContext<O>, ...positional: string[]) => Promise<string>,
  ) => operatorAction<O>(loadConfig, (error) => error instanceof RouteAdminError, run);

  route
    .command('get <address>')
    .description('show where an address is routed and why')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .action(
      action(async (context, address = '') => {
        const { effective, table, config } = await admin(context).explain(address);
        const outcome = effective.kind === 'mailstore' ? effective.mailstore : `(${effective.kind})`;
        return `${address.toLowerCase()} -> ${outcome}   table: ${table ?? '-'}   config: ${config ?? '-'}`;
      }),
    );
  route
    .command('set <address> <mailstore>')
    .description('route an address to a mailstore (wins over the config file)')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .action(
      action(async (context, address = '', mailstore = '') => {
        await admin(context).set(address, mailstore);
        return `${address.toLowerCase()} -> ${mailstore}`;
      }),
    );
  route
    .command('delete <address>')
    .description('remove an address from the Redis table (the config file applies again)')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .action(
      action(async (context, address = '') => {
        await admin(context).remove(address);
        return `${address.toLowerCase()} removed from the routing table`;
      }),
    );
  route
    .command('import <file>')
    .description('bulk-load "address,mailstore" lines; --replace swaps the whole table atomically')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .option('--replace', 'replace the table instead of adding to it')
    .action(
      action<{ config: string; replace?: boolean }>(async (context, file = '') => {
        const { loaded, tableSize } = await admin(context).importFile(file, {
          replace: context.options.replace === true,
        });
        return `loaded ${loaded} entries; the table now holds ${tableSize}`;
      }),
    );
}

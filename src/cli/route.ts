// `holdfast route get|set|delete|import`: the routing table held in Redis, through the admin API.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliInputError, apiAction, apiOptions, type CommonOptions, type ConfigLoader } from './connect.js';
import type { RouteResponse } from '../admin/api.js';

type Options = CommonOptions & { replace?: boolean };

function describe({ address, effective, table, config }: RouteResponse): string {
  const outcome = effective.kind === 'mailstore' ? effective.mailstore : `(${effective.kind})`;
  return `${address} -> ${outcome}   table: ${table ?? '-'}   config: ${config ?? '-'}`;
}

export function registerRouteCommands(program: Command, loadConfig: ConfigLoader, defaultConfig: string): void {
  const action = (run: Parameters<typeof apiAction<Options>>[1]) => apiAction<Options>(loadConfig, run);
  const route = program.command('route').description('look up and change the per-user routing table held in Redis');
  apiOptions(
    route.command('get <address>').description('show where an address is routed and why'),
    defaultConfig,
  ).action(
    action(async (client, _options, [address = '']) => {
      const answer = await client.route(address);
      return { text: describe(answer), json: answer };
    }),
  );
  apiOptions(
    route
      .command('set <address> <mailstore>')
      .description('route an address to a mailstore (wins over the config file)'),
    defaultConfig,
  ).action(
    action(async (client, _options, [address = '', mailstore = '']) => {
      const answer = await client.setRoute(address, mailstore);
      return { text: `${answer.address} -> ${mailstore}`, json: answer };
    }),
  );
  apiOptions(
    route
      .command('delete <address>')
      .description('remove an address from the Redis table (the config file applies again)'),
    defaultConfig,
  ).action(
    action(async (client, _options, [address = '']) => {
      const answer = await client.deleteRoute(address);
      return { text: `${answer.address} removed from the routing table`, json: answer };
    }),
  );
  apiOptions(
    route
      .command('import <file>')
      .description('bulk-load "address,mailstore" lines; --replace swaps the whole table atomically')
      .option('--replace', 'replace the table instead of adding to it'),
    defaultConfig,
  ).action(
    action(async (client, { replace = false }, [file = '']) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (error) {
        throw new CliInputError(`cannot read ${file}: ${(error as Error).message}`);
      }
      const answer = await client.importRoutes(text, replace, file);
      return { text: `loaded ${answer.loaded} entries; the table now holds ${answer.tableSize}`, json: answer };
    }),
  );
}

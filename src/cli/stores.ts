// `holdfast store move|unmove|endpoints`: fail a store over to another, or point it at other endpoints, live.
import type { Command } from 'commander';
import { apiAction, apiOptions, operatorName, type CommonOptions, type ConfigLoader } from './connect.js';

type Options = CommonOptions & { reason?: string; by?: string; reset?: boolean };

export function registerStoreCommands(program: Command, loadConfig: ConfigLoader, defaultConfig: string): void {
  const action = (run: Parameters<typeof apiAction<Options>>[1]) => apiAction<Options>(loadConfig, run);
  const store = program.command('store').description("change a mailstore's live settings");
  apiOptions(
    store
      .command('move <from> <to>')
      .description("send FROM's mail, queued and new, to TO (failover to a replica) until `store unmove FROM`")
      .requiredOption('-r, --reason <text>', 'why (kept in the audit trail)')
      .option('--by <name>', 'who moves it (default: your login)'),
    defaultConfig,
  ).action(
    action(async (client, { reason = '', by }, [from = '', to = '']) => {
      const answer = await client.move(from, { to, reason, by: operatorName(by) });
      return { text: `${from}: its mail goes to ${to} now; queued mail is being moved`, json: answer };
    }),
  );
  apiOptions(
    store
      .command('unmove <mailstore>')
      .description("send the store's mail to the store itself again (mail moved away comes back at its next attempt)")
      .requiredOption('-r, --reason <text>', 'why (kept in the audit trail)')
      .option('--by <name>', 'who (default: your login)'),
    defaultConfig,
  ).action(
    action(async (client, { reason = '', by }, [mailstore = '']) => {
      const answer = await client.unmove(mailstore, { reason, by: operatorName(by) });
      return { text: `${mailstore}: its mail goes to ${mailstore} again`, json: answer };
    }),
  );
  apiOptions(
    store
      .command('endpoints <mailstore> [endpoints...]')
      .description('deliver to these host:port endpoints (in order) instead of the configured ones; --reset to go back')
      .requiredOption('-r, --reason <text>', 'why (kept in the audit trail)')
      .option('--reset', "go back to the config file's endpoints")
      .option('--by <name>', 'who (default: your login)'),
    defaultConfig,
  ).action(
    action(async (client, { reason = '', by, reset }, [mailstore = '', ...endpoints]) => {
      const actor = { reason, by: operatorName(by) };
      if (reset) {
        const answer = await client.resetEndpoints(mailstore, actor);
        return { text: `${mailstore}: back to its configured endpoints`, json: answer };
      }
      const answer = await client.setEndpoints(mailstore, { ...actor, endpoints });
      return { text: `${mailstore}: delivering to ${endpoints.join(', ')}`, json: answer };
    }),
  );
}

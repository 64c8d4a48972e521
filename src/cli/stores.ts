// `holdfast store move|unmove|endpoints`: fail a store over to another, or point it at other endpoints, live.
import type { Command } from 'commander';
import { StoreAdmin, StoreAdminError } from '../admin/stores.js';
import { createLogger } from '../observability/logger.js';
import { createKeys } from '../queue/keys.js';
import { MailQueues } from '../queue/queues.js';
import { MailstoreControls } from '../queue/mailstore-controls.js';
import { StoreOverridesRepository } from '../queue/store-overrides.js';
import { operatorAction, operatorName, type ConfigLoader, type OperatorContext } from './connect.js';

type Options = { config: string; reason?: string; by?: string; reset?: boolean };

async function withStores<T>(context: OperatorContext<Options>, run: (admin: StoreAdmin) => Promise<T>): Promise<T> {
  const { config, redis } = context;
  const keys = createKeys(config.redis.prefix);
  const mailstores = Object.keys(config.mailstores);
  const queues = new MailQueues(redis, keys, mailstores, () => undefined);
  try {
    const overrides = new StoreOverridesRepository(redis, keys, mailstores, 5000);
    const controls = new MailstoreControls(redis, keys, queues, 5000);
    return await run(new StoreAdmin(config, overrides, controls, createLogger('warn', process.stderr)));
  } finally {
    await queues.close();
  }
}

export function registerStoreCommands(program: Command, loadConfig: ConfigLoader, defaultConfig: string): void {
  // A variadic argument arrives as an array among the positional ones: flattened here.
  const action = (run: (context: OperatorContext<Options>, positional: string[]) => Promise<string>) =>
    operatorAction<Options>(
      loadConfig,
      (error) => error instanceof StoreAdminError,
      (context, ...positional) => run(context, positional.flat()),
    );
  const store = program.command('store').description("change a mailstore's live settings");
  store
    .command('move <from> <to>')
    .description("send FROM's mail, queued and new, to TO (failover to a replica) until `store unmove FROM`")
    .requiredOption('-r, --reason <text>', 'why (kept in the audit trail)')
    .option('--by <name>', 'who moves it (default: your login)')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .action(
      action(async (context, [from = '', to = '']) => {
        const { reason = '', by } = context.options;
        await withStores(context, (admin) => admin.move(from, to, { by: operatorName(by), reason }));
        return `${from}: its mail goes to ${to} now; queued mail is being moved`;
      }),
    );
  store
    .command('unmove <mailstore>')
    .description("send the store's mail to the store itself again (mail moved away comes back at its next attempt)")
    .requiredOption('-r, --reason <text>', 'why (kept in the audit trail)')
    .option('--by <name>', 'who (default: your login)')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .action(
      action(async (context, [mailstore = '']) => {
        const { reason = '', by } = context.options;
        await withStores(context, (admin) => admin.unmove(mailstore, { by: operatorName(by), reason }));
        return `${mailstore}: its mail goes to ${mailstore} again`;
      }),
    );
  store
    .command('endpoints <mailstore> [endpoints...]')
    .description('deliver to these host:port endpoints (in order) instead of the configured ones; --reset to go back')
    .requiredOption('-r, --reason <text>', 'why (kept in the audit trail)')
    .option('--reset', "go back to the config file's endpoints")
    .option('--by <name>', 'who (default: your login)')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .action(
      action(async (context, [mailstore = '', ...rest]) => {
        const { reason = '', by, reset } = context.options;
        const actor = { by: operatorName(by), reason };
        if (reset) {
          await withStores(context, (admin) => admin.resetEndpoints(mailstore, actor));
          return `${mailstore}: back to its configured endpoints`;
        }
        await withStores(context, (admin) => admin.setEndpoints(mailstore, rest, actor));
        return `${mailstore}: delivering to ${rest.join(', ')}`;
      }),
    );
}

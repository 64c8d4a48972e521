// `holdfast queue list|delete`: find and delete queued messages by store, recipient, sender or age.
import type { Command } from 'commander';
import { MessageAdmin, MessageAdminError, describeFilter, type MessageFilter } from '../admin/messages.js';
import { parseDuration } from '../config/units.js';
import { createLogger } from '../observability/logger.js';
import { createKeys } from '../queue/keys.js';
import { MailQueues } from '../queue/queues.js';
import { MailstoreControls } from '../queue/mailstore-controls.js';
import { MessageControls } from '../queue/message-controls.js';
import { Spool } from '../queue/spool.js';
import { operatorAction, operatorName, type ConfigLoader, type OperatorContext } from './connect.js';

type Options = {
  config: string;
  store?: string;
  recipient?: string;
  sender?: string;
  olderThan?: string;
  reason?: string;
  by?: string;
  dryRun?: boolean;
  json?: boolean;
};

function filterOf(options: Options): MessageFilter {
  const olderThanMs = options.olderThan === undefined ? undefined : parseDuration(options.olderThan);
  if (options.olderThan !== undefined && olderThanMs === undefined) {
    throw new MessageAdminError(`--older-than: not a duration: ${options.olderThan}`);
  }
  return { mailstore: options.store, recipient: options.recipient, sender: options.sender, olderThanMs };
}

async function withMessages<T>(
  context: OperatorContext<Options>,
  run: (admin: MessageAdmin) => Promise<T>,
): Promise<T> {
  const { config, redis } = context;
  const keys = createKeys(config.redis.prefix);
  const queues = new MailQueues(redis, keys, Object.keys(config.mailstores), () => undefined);
  try {
    const messages = new MessageControls(queues, new Spool(redis, keys, 5000), 5000);
    const audit = new MailstoreControls(redis, keys, queues, 5000);
    return await run(new MessageAdmin(config, messages, audit, createLogger('warn', process.stderr)));
  } finally {
    await queues.close();
  }
}

function selection(command: Command): Command {
  return command
    .option('--store <mailstore>', 'only this mailstore')
    .option('--recipient <address>', 'only messages for this recipient')
    .option('--sender <address>', 'only messages from this envelope sender ("" for <>)')
    .option('--older-than <duration>', 'only messages queued longer than this (e.g. 2h, 3d)');
}

export function registerQueueCommands(program: Command, loadConfig: ConfigLoader, defaultConfig: string): void {
  const action = (run: (context: OperatorContext<Options>) => Promise<string>) =>
    operatorAction<Options>(loadConfig, (error) => error instanceof MessageAdminError, run);
  const queue = program.command('queue').description('find and act on queued messages');
  selection(queue.command('list').description('list queued messages (not those being delivered right now)'))
    .option('--json', 'machine-readable output')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .action(
      action(async (context) => {
        const messages = await withMessages(context, (admin) => admin.select(filterOf(context.options)));
        if (context.options.json) return JSON.stringify(messages, null, 2);
        const lines = messages.map((message) => {
          const received = new Date(message.receivedAt).toISOString();
          return `${message.queueId}  ${message.mailstore}  ${message.state}  ${received}  ${message.size}  <${message.sender}> -> ${message.recipients.join(', ')}`;
        });
        return [...lines, `${messages.length} messages`].join('\n');
      }),
    );
  selection(queue.command('delete').description('delete queued messages; try --dry-run first'))
    .option('--dry-run', 'only count what would be deleted')
    .option('-r, --reason <text>', 'why (required unless --dry-run; kept in the audit trail)')
    .option('--by <name>', 'who deletes (default: your login)')
    .option('--json', 'machine-readable output')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .action(
      action(async (context) => {
        const { dryRun = false, reason = '', by, json } = context.options;
        const filter = filterOf(context.options);
        const result = await withMessages(context, (admin) =>
          admin.delete(filter, { dryRun, reason, by: operatorName(by) }),
        );
        if (json) return JSON.stringify(result, null, 2);
        const what = `${result.matched} messages, ${result.bytes} bytes, ${result.users} users (${describeFilter(filter)})`;
        if (dryRun) return `would delete ${what}`;
        const skipped = result.skipped.length > 0 ? `; skipped ${result.skipped.length} being delivered` : '';
        return `deleted ${result.deleted} of ${what}${skipped}`;
      }),
    );
}

// `holdfast queue list|hold|release|retry|delete`: act on queued messages by queue id, store, recipient, sender or age.
import type { Command } from 'commander';
import {
  MessageAdmin,
  MessageAdminError,
  describeFilter,
  pastTense,
  type MessageAction,
  type MessageFilter,
} from '../admin/messages.js';
import { parseDuration } from '../config/units.js';
import { createLogger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import { createKeys } from '../queue/keys.js';
import { MailQueues } from '../queue/queues.js';
import { MailstoreControls } from '../queue/mailstore-controls.js';
import { MessageControls } from '../queue/message-controls.js';
import { Spool } from '../queue/spool.js';
import { Trace } from '../queue/trace.js';
import { operatorAction, operatorName, type ConfigLoader, type OperatorContext } from './connect.js';

type Options = {
  config: string;
  queueId?: string;
  store?: string;
  recipient?: string;
  sender?: string;
  olderThan?: string;
  reason?: string;
  by?: string;
  dryRun?: boolean;
  json?: boolean;
  all?: boolean;
};

/** The selection; an action (not a listing) with none must say --all. */
function filterOf(options: Options, isAction = true): MessageFilter {
  const olderThanMs = options.olderThan === undefined ? undefined : parseDuration(options.olderThan);
  if (options.olderThan !== undefined && olderThanMs === undefined) {
    throw new MessageAdminError(`--older-than: not a duration: ${options.olderThan}`);
  }
  const filter = {
    queueId: options.queueId,
    mailstore: options.store,
    recipient: options.recipient,
    sender: options.sender,
    olderThanMs,
  };
  if (isAction && Object.values(filter).every((value) => value === undefined) && !options.all) {
    throw new MessageAdminError(
      'select messages (--queue-id, --store, --recipient, --sender, --older-than) or give --all',
    );
  }
  return filter;
}

async function withMessages<T>(
  context: OperatorContext<Options>,
  run: (admin: MessageAdmin) => Promise<T>,
): Promise<T> {
  const { config, redis } = context;
  const keys = createKeys(config.redis.prefix);
  const queues = new MailQueues(redis, keys, Object.keys(config.mailstores), () => undefined);
  try {
    const messages = new MessageControls(queues, new Spool(redis, keys, 5000), redis, 5000);
    const audit = new MailstoreControls(redis, keys, queues, 5000);
    const logger = createLogger('warn', process.stderr);
    const trace = new Trace(redis, keys, config.trace, {
      onError: (error) => logger.debug({ event: EVENTS.traceNotRecorded, err: error }, 'trace not recorded'),
    });
    return await run(new MessageAdmin(config, messages, audit, logger, Date.now, trace));
  } finally {
    await queues.close();
  }
}

function selection(command: Command): Command {
  return command
    .option('--queue-id <id>', 'only this message (its queue id, from the 250 reply or the Received header)')
    .option('--store <mailstore>', 'only this mailstore')
    .option('--recipient <address>', 'only messages for this recipient')
    .option('--sender <address>', 'only messages from this envelope sender ("" for <>)')
    .option('--older-than <duration>', 'only messages queued longer than this (e.g. 2h, 3d)')
    .option('--all', 'every queued message (an action with no selection needs it)');
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
        const messages = await withMessages(context, (admin) => admin.select(filterOf(context.options, false)));
        if (context.options.json) return JSON.stringify(messages, null, 2);
        const lines = messages.map((message) => {
          const received = new Date(message.receivedAt).toISOString();
          return `${message.queueId}  ${message.mailstore}  ${message.state}  ${received}  ${message.size}  <${message.sender}> -> ${message.recipients.join(', ')}`;
        });
        return [...lines, `${messages.length} messages`].join('\n');
      }),
    );
  const actions: Array<[MessageAction, string]> = [
    ['hold', 'hold messages: they are accepted and kept, never attempted, until released'],
    ['release', 'release held messages: they are tried at once'],
    ['retry', 'try deferred messages now, and messages kept after a permanent failure again'],
    ['delete', 'delete queued messages (no bounce); try --dry-run first'],
  ];
  for (const [name, description] of actions) {
    const needsReason = name === 'hold' || name === 'delete';
    selection(queue.command(name).description(description))
      .option('--dry-run', 'only count what would be changed')
      .option(
        '-r, --reason <text>',
        needsReason ? 'why (required unless --dry-run; kept in the audit trail)' : 'why (kept in the audit trail)',
      )
      .option('--by <name>', 'who acts (default: your login)')
      .option('--json', 'machine-readable output')
      .option('-c, --config <file>', 'configuration file', defaultConfig)
      .action(
        action(async (context) => {
          const { dryRun = false, reason, by, json } = context.options;
          const filter = filterOf(context.options);
          const result = await withMessages(context, (admin) =>
            admin.act(name, filter, { dryRun, reason, by: operatorName(by) }),
          );
          if (json) return JSON.stringify(result, null, 2);
          const what = `${result.matched} messages, ${result.bytes} bytes, ${result.users} users (${describeFilter(filter)})`;
          if (dryRun) return `would ${name} ${what}`;
          const unchanged = result.unchanged.length > 0 ? `; ${result.unchanged.length} unchanged` : '';
          const skipped = result.skipped.length > 0 ? `; skipped ${result.skipped.length} being delivered` : '';
          return `${pastTense(name)} ${result.done} of ${what}${unchanged}${skipped}`;
        }),
      );
  }
}

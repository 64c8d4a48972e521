// `holdfast queue list|show|hold|release|retry|delete`: find and act on queued messages through the admin API.
import type { Command } from 'commander';
import type { MessageAction } from '../admin/messages.js';
import { describeFilter, pastTense, toMessageFilter } from '../admin/api.js';
import { HoldfastError } from '../errors.js';
import { parseDuration } from '../config/units.js';
import {
  CliInputError,
  apiAction,
  apiOptions,
  operatorName,
  type CommonOptions,
  type ConfigLoader,
} from './connect.js';
import { iso } from './format.js';
import { traceLine } from './trace.js';

type Options = CommonOptions & {
  queueId?: string;
  store?: string;
  recipient?: string;
  sender?: string;
  olderThan?: string;
  state?: 'waiting' | 'delayed' | 'held' | 'failed';
  limit?: string;
  offset?: string;
  reason?: string;
  by?: string;
  dryRun?: boolean;
  all?: boolean;
};

function filterOf(options: Options) {
  if (options.olderThan !== undefined && parseDuration(options.olderThan) === undefined) {
    throw new CliInputError(`--older-than: not a duration: ${options.olderThan}`);
  }
  const { queueId, store, recipient, sender, olderThan } = options;
  return { queueId, store, recipient, sender, olderThan };
}

/** The selection as the audit trail and the log name it. */
function describe(filter: ReturnType<typeof filterOf>): string {
  try {
    return describeFilter(toMessageFilter(filter));
  } catch (error) {
    if (error instanceof HoldfastError) throw new CliInputError(error.message);
    throw error;
  }
}

function selection(command: Command): Command {
  return command
    .option('--queue-id <id>', 'only this message (its queue id, from the 250 reply or the Received header)')
    .option('--store <mailstore>', 'only this mailstore')
    .option('--recipient <address>', 'only messages for this recipient')
    .option('--sender <address>', 'only messages from this envelope sender ("" for <>)')
    .option('--older-than <duration>', 'only messages queued longer than this (e.g. 2h, 3d)');
}

export function registerQueueCommands(program: Command, loadConfig: ConfigLoader, defaultConfig: string): void {
  const action = (run: Parameters<typeof apiAction<Options>>[1]) => apiAction<Options>(loadConfig, run);
  const queue = program.command('queue').description('find and act on queued messages');
  apiOptions(
    selection(queue.command('list').description('list queued messages (not those being delivered right now)'))
      .option('--state <state>', 'only waiting, delayed, held or failed (kept) messages')
      .option('--limit <count>', 'at most this many (oldest first)', '1000')
      .option('--offset <count>', 'skip this many first', '0'),
    defaultConfig,
  ).action(
    action(async (client, options) => {
      const answer = await client.messages({
        ...filterOf(options),
        state: options.state,
        limit: Number(options.limit ?? 1000),
        offset: Number(options.offset ?? 0),
      });
      const lines = answer.messages.map(
        (message) =>
          `${message.queueId}  ${message.mailstore}  ${message.state}  ${iso(message.receivedAt)}  ${message.size}  <${message.sender}> -> ${message.recipients.join(', ')}`,
      );
      const more = answer.total > answer.messages.length ? ` (of ${answer.total})` : '';
      return { text: [...lines, `${answer.messages.length} messages${more}`].join('\n'), json: answer };
    }),
  );
  apiOptions(
    queue.command('show <queue-id>').description("one message: envelope, headers, its stores' jobs"),
    defaultConfig,
  ).action(
    action(async (client, _options, [queueId = '']) => {
      const message = await client.message(queueId);
      const jobs = message.jobs.map((job) => `  ${job.mailstore}  ${job.state}  -> ${job.recipients.join(', ')}`);
      const text = [
        `queue id:  ${message.queueId}`,
        `received:  ${iso(message.receivedAt)} from ${message.client}`,
        `sender:    <${message.sender}>`,
        `size:      ${message.size}`,
        'jobs:',
        ...jobs,
        'events:',
        ...message.events.map((event) => `  ${traceLine(event)}`),
        '',
        message.headers,
      ].join('\n');
      return { text, json: message };
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
    apiOptions(
      selection(queue.command(name).description(description))
        .option('--all', 'every queued message (an action with no selection needs it)')
        .option('--dry-run', 'only count what would be changed')
        .option(
          '-r, --reason <text>',
          needsReason ? 'why (required unless --dry-run; kept in the audit trail)' : 'why (kept in the audit trail)',
        )
        .option('--by <name>', 'who acts (default: your login)'),
      defaultConfig,
    ).action(
      action(async (client, options) => {
        const filter = filterOf(options);
        const { dryRun = false, reason, by, all = false } = options;
        const result = await client.act({ action: name, filter, all, dryRun, reason, by: operatorName(by) });
        const what = `${result.matched} messages, ${result.bytes} bytes, ${result.users} users (${describe(filter)})`;
        if (dryRun) return { text: `would ${name} ${what}`, json: result };
        const unchanged = result.unchanged.length > 0 ? `; ${result.unchanged.length} unchanged` : '';
        const skipped = result.skipped.length > 0 ? `; skipped ${result.skipped.length} being delivered` : '';
        return { text: `${pastTense(name)} ${result.done} of ${what}${unchanged}${skipped}`, json: result };
      }),
    );
  }
}

// `holdfast trace`: what happened to a message, found by queue id, Message-ID or recipient.
import type { Command } from 'commander';
import type { TraceEvent } from '../repositories/trace.js';
import { CliInputError, apiAction, apiOptions, type CommonOptions, type ConfigLoader } from './connect.js';
import { iso } from './format.js';

type Options = CommonOptions & { queueId?: string; messageId?: string; recipient?: string; limit?: string };

/** One event in a line: when, what, where, for whom, and the reply or the detail. */
export function traceLine(event: TraceEvent): string {
  const parts = [iso(event.at), event.kind.padEnd(9)];
  if (event.mailstore) parts.push(event.mailstore);
  if (event.kind === 'accepted') parts.push(`from <${event.sender ?? ''}> (${event.remote ?? '?'})`);
  if (event.recipients?.length) parts.push(event.recipients.join(', '));
  if (event.attempt !== undefined) parts.push(`attempt ${event.attempt}`);
  if (event.reply)
    parts.push(`"${event.reply}"${event.remote && event.kind !== 'accepted' ? ` from ${event.remote}` : ''}`);
  if (event.retryAt !== undefined) parts.push(`retry at ${iso(event.retryAt)}`);
  if (event.by) parts.push(`by ${event.by}`);
  if (event.detail) parts.push(event.detail);
  return parts.join('  ');
}

export function registerTraceCommand(program: Command, loadConfig: ConfigLoader, defaultConfig: string): void {
  apiOptions(
    program
      .command('trace')
      .description('what happened to a message: its events, by queue id, Message-ID or recipient')
      .option('--queue-id <id>', "the message's queue id (from the 250 reply or the Received header)")
      .option('--message-id <id>', 'its Message-ID header, with or without <>')
      .option('--recipient <address>', 'messages for this recipient, the most recently active first')
      .option('--limit <count>', 'at most this many messages', '50'),
    defaultConfig,
  ).action(
    apiAction<Options>(loadConfig, async (client, options) => {
      const { queueId, messageId, recipient } = options;
      if (queueId === undefined && messageId === undefined && recipient === undefined) {
        throw new CliInputError('give --queue-id, --message-id or --recipient');
      }
      const answer = await client.trace({ queueId, messageId, recipient, limit: Number(options.limit ?? 50) });
      const blocks = answer.messages.map((message) => [message.queueId, ...message.events.map(traceLine)].join('\n  '));
      const text =
        blocks.length === 0 ? 'no trace found (never here, or older than the retention)' : blocks.join('\n\n');
      return { text, json: answer };
    }),
  );
}

// `holdfast replay STORE --since T`: queue retained copies of delivered mail again for a store restored from a lagging replica.
import type { Command } from 'commander';
import type { ReplayResult } from '../admin/replay.js';
import { apiAction, apiOptions, operatorName, type CommonOptions, type ConfigLoader } from './connect.js';
import { iso } from './format.js';

type Options = CommonOptions & {
  since: string;
  until?: string;
  recipient?: string;
  dryRun?: boolean;
  reason?: string;
  by?: string;
};

/** Numbers are milliseconds since the epoch; other text is an ISO time or a duration ago, read by the API. */
function timeOption(text: string | undefined): string | number | undefined {
  return text !== undefined && /^\d{10,}$/.test(text) ? Number(text) : text;
}

/** What an operator must hear before trusting the result: copies missing from the window, retention off. */
function warnings(result: ReplayResult): string[] {
  const lines: string[] = [];
  if (!result.retentionEnabled) lines.push(`warning: retention is off for ${result.mailstore}`);
  if (result.gapUntil !== undefined && result.gapUntil >= result.since) {
    lines.push(
      `warning: copies of mail delivered up to ${iso(result.gapUntil)} were dropped or not kept (retention period, budget, memory): the replay from ${iso(result.since)} is incomplete`,
    );
  }
  if (result.missing > 0) lines.push(`warning: ${result.missing} copies were dropped before they could be replayed`);
  return lines;
}

export function registerReplayCommand(program: Command, loadConfig: ConfigLoader, defaultConfig: string): void {
  apiOptions(
    program
      .command('replay <mailstore>')
      .description(
        'queue again the retained copies of mail delivered to a store (restored from a lagging replica); try --dry-run first',
      )
      .requiredOption('--since <time>', 'mail delivered from this ISO time, or this long ago (e.g. 6h)')
      .option('--until <time>', 'and up to this ISO time, or this long ago (default: now)')
      .option('--recipient <address>', 'only this recipient')
      .option('--dry-run', 'only count the messages, bytes and users that would be replayed')
      .option('-r, --reason <text>', 'why (kept in the audit trail)')
      .option('--by <name>', 'who replays (default: your login)'),
    defaultConfig,
  ).action(
    apiAction<Options>(loadConfig, async (client, options, [mailstore = '']) => {
      const { since, until, recipient, dryRun = false, reason, by } = options;
      const result = await client.replay(mailstore, {
        since: timeOption(since)!,
        until: timeOption(until),
        recipient,
        dryRun,
        reason,
        by: operatorName(by),
      });
      const window = `delivered to ${mailstore} from ${iso(result.since)} to ${iso(result.until)}`;
      const what = `${result.messages} messages, ${result.bytes} bytes, ${result.users} users (${window}${recipient ? ` for ${recipient}` : ''})`;
      const pace = result.state?.kind === 'releasing' ? `; ${mailstore} is releasing at the ramp's pace` : '';
      const stopped = result.state && result.state.kind !== 'releasing' && result.state.kind !== 'open';
      const waits = stopped ? `; ${mailstore} is ${result.state!.kind}: they wait for its release` : '';
      const summary = dryRun ? `would replay ${what}` : `replayed ${result.replayed} of ${what}${pace}${waits}`;
      return { text: [summary, ...warnings(result)].join('\n'), json: result };
    }),
  );
}

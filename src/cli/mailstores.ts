// `holdfast hold|release|confirm-bounces|cancel-window|probe|status|audit`: operate mailstores through the admin API.
import type { Command } from 'commander';
import {
  CliInputError,
  apiAction,
  apiOptions,
  operatorName,
  type CommonOptions,
  type ConfigLoader,
} from './connect.js';
import { auditLine, iso, statusTable } from './format.js';

type Options = CommonOptions & {
  reason?: string;
  by?: string;
  until?: string;
  from?: string;
  limit?: string;
  rate?: string;
  concurrency?: string;
};

/** A positive number option, or an input error naming it. */
function positive(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new CliInputError(`--${name}: not a positive number: ${text}`);
  return value;
}

export function registerMailstoreCommands(program: Command, loadConfig: ConfigLoader, defaultConfig: string): void {
  const action = (run: Parameters<typeof apiAction<Options>>[1]) => apiAction<Options>(loadConfig, run);
  apiOptions(
    program
      .command('hold <mailstore>')
      .description('stop delivery attempts to a mailstore; its mail keeps being accepted and queued')
      .requiredOption('-r, --reason <text>', 'why (kept in the audit trail)')
      .option('--until <time>', 'lift the hold by itself at this ISO time, or after this long (e.g. 2h)')
      .option('--from <time>', 'a maintenance window: hold from this ISO time, or in this long (e.g. 1h), to --until')
      .option('--by <name>', 'who holds it (default: your login)'),
    defaultConfig,
  ).action(
    action(async (client, { reason = '', by, until, from }, [mailstore = '']) => {
      if (from !== undefined && until === undefined) {
        throw new CliInputError('--from needs --until: a maintenance window has an end');
      }
      const answer = await client.hold(mailstore, { reason, by: operatorName(by), until, from });
      if (answer.scheduled) {
        const { from: start, until: end } = answer.scheduled;
        return { text: `${mailstore}: hold scheduled from ${iso(start)} to ${iso(end)}: ${reason}`, json: answer };
      }
      return { text: `${mailstore} held: ${reason}`, json: answer };
    }),
  );
  apiOptions(
    program
      .command('cancel-window <mailstore>')
      .description('cancel the maintenance windows of a mailstore that have not started yet')
      .option('-r, --reason <text>', 'why (kept in the audit trail)')
      .option('--by <name>', 'who cancels them (default: your login)'),
    defaultConfig,
  ).action(
    action(async (client, { reason, by }, [mailstore = '']) => {
      const answer = await client.cancelWindows(mailstore, { by: operatorName(by), reason });
      const text = answer.cancelled
        .map((window) => `${mailstore}: cancelled the window from ${iso(window.from)} to ${iso(window.until)}`)
        .join('\n');
      return { text, json: answer };
    }),
  );
  apiOptions(
    program
      .command('release <mailstore>')
      .description('let delivery to a held, tripped or guarded mailstore resume, paced by the ramp')
      .option('-r, --reason <text>', 'why (kept in the audit trail)')
      .option('--rate <msgs-per-second>', 'deliver at this rate instead of the ramp (until the queue is empty)')
      .option('--concurrency <connections>', 'with this many connections instead of the ramp')
      .option('--by <name>', 'who releases it (default: your login)'),
    defaultConfig,
  ).action(
    action(async (client, options, [mailstore = '']) => {
      const rate = positive('rate', options.rate);
      const concurrency = positive('concurrency', options.concurrency);
      const answer = await client.release(mailstore, {
        by: operatorName(options.by),
        reason: options.reason,
        rate,
        concurrency: concurrency && Math.round(concurrency),
      });
      const { state } = answer;
      const pace = state.kind === 'releasing' ? ` at ${state.rate} msgs/s, ${state.concurrency} connections` : '';
      return { text: `${mailstore} released${pace}`, json: answer };
    }),
  );
  apiOptions(
    program
      .command('confirm-bounces <mailstore>')
      .description('end a guard by bouncing the recipients it kept (release retries them instead)')
      .option('-r, --reason <text>', 'why (kept in the audit trail)')
      .option('--by <name>', 'who decides (default: your login)'),
    defaultConfig,
  ).action(
    action(async (client, { reason, by }, [mailstore = '']) => {
      const answer = await client.confirmBounces(mailstore, { by: operatorName(by), reason });
      return { text: `${mailstore}: bounces confirmed, delivery resumed`, json: answer };
    }),
  );
  apiOptions(
    program.command('probe <mailstore>').description('probe a mailstore now; a tripped store that answers is released'),
    defaultConfig,
  ).action(
    action(async (client, _options, [mailstore = '']) => {
      const answer = await client.probe(mailstore);
      return {
        text: `${mailstore}: ${answer.answered ? 'answered' : 'did not answer'}; ${answer.state.kind}`,
        json: answer,
      };
    }),
  );
  apiOptions(
    program.command('status').description('every mailstore: state, queued mail, oldest age, maintenance windows'),
    defaultConfig,
  ).action(
    action(async (client) => {
      const answer = await client.stores();
      // --json keeps the array of stores, as before the API.
      return { text: statusTable(answer.stores), json: answer.stores };
    }),
  );
  apiOptions(
    program
      .command('audit')
      .description('the audit trail of state changes and operator actions, newest first')
      .option('-n, --limit <count>', 'how many entries', '20'),
    defaultConfig,
  ).action(
    action(async (client, { limit = '20' }) => {
      const count = positive('limit', limit) ?? 20;
      const { entries } = await client.audit(Math.round(count));
      return { text: entries.map(auditLine).join('\n'), json: entries };
    }),
  );
}

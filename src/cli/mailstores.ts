// `holdfast hold|release|cancel-window|status|audit`: operate mailstores from the command line.
import type { Command } from 'commander';
import { MailstoreAdmin, MailstoreAdminError, type MailstoreStatus } from '../admin/mailstores.js';
import { parseDuration } from '../config/units.js';
import type { AuditEntry } from '../policy/mailstore-state.js';
import { createLogger } from '../observability/logger.js';
import { createKeys } from '../queue/keys.js';
import { MailQueues } from '../queue/queues.js';
import { MailstoreControls } from '../queue/mailstore-controls.js';
import { StoreOverridesRepository } from '../queue/store-overrides.js';
import { operatorAction, operatorName, type ConfigLoader, type OperatorContext } from './connect.js';

type Options = {
  config: string;
  reason?: string;
  by?: string;
  until?: string;
  from?: string;
  json?: boolean;
  limit?: string;
  rate?: string;
  concurrency?: string;
};

/** A positive number option, or an input error naming it. */
function positive(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new MailstoreAdminError(`--${name}: not a positive number: ${text}`);
  return value;
}

/** A time option ("--until", "--from"): an ISO time or a duration from now ("2h"). */
export function parseTime(option: string, text: string, now: number): number {
  const duration = parseDuration(text);
  if (duration !== undefined) return now + duration;
  const time = Date.parse(text);
  if (Number.isNaN(time)) throw new MailstoreAdminError(`--${option}: not a time or a duration: ${text}`);
  return time;
}

function iso(time: number): string {
  return new Date(time).toISOString();
}

async function withAdmin<T>(context: OperatorContext<Options>, run: (admin: MailstoreAdmin) => Promise<T>): Promise<T> {
  const { config, redis } = context;
  const keys = createKeys(config.redis.prefix);
  const mailstores = Object.keys(config.mailstores);
  const queues = new MailQueues(redis, keys, mailstores, () => undefined);
  try {
    const openRate = (mailstore: string) => config.mailstores[mailstore]?.rate ?? 0;
    const controls = new MailstoreControls(redis, keys, queues, 5000, openRate);
    const overrides = new StoreOverridesRepository(redis, keys, mailstores, 5000);
    // The audit trail is the record of operator actions; the CLI's own log goes to stderr.
    const logger = createLogger('warn', process.stderr);
    return await run(new MailstoreAdmin(config, controls, logger, Date.now, overrides));
  } finally {
    await queues.close();
  }
}

/** A short age for a table: 45s, 12m, 3h, 4d5h. */
export function shortAge(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  const hours = Math.floor((seconds % 86_400) / 3600);
  return `${Math.floor(seconds / 86_400)}d${hours > 0 ? `${hours}h` : ''}`;
}

function statusTable(statuses: MailstoreStatus[]): string {
  const rows = statuses.map(({ mailstore, state, counts, progress, backlog, overrides }) => {
    const live = [
      overrides?.movedTo === undefined ? '' : ` [mail moved to ${overrides.movedTo}]`,
      overrides?.endpoints === undefined ? '' : ` [endpoints ${overrides.endpoints.join(',')}]`,
    ].join('');
    const figures = [
      counts.waiting,
      counts.delayed,
      counts.active,
      counts.failed,
      shortAge(backlog.oldestAgeSeconds),
      backlog.expiringSoon,
    ];
    if (state.kind === 'releasing') {
      const eta = Number.isFinite(progress?.etaSeconds) ? ` ETA ${progress?.etaSeconds ?? 0}s` : '';
      const detail = `${state.rate} msgs/s, ${state.concurrency} connections${state.explicit ? ' (explicit)' : ''}, ${progress?.remaining ?? 0} remaining${eta}`;
      return [mailstore, state.kind, ...figures, detail + live];
    }
    const until = state.kind === 'held' && state.until ? ` until ${iso(state.until)}` : '';
    const detail = state.kind === 'open' ? '' : `${state.reason} (by ${state.by} since ${iso(state.since)}${until})`;
    return [mailstore, state.kind, ...figures, (detail + live).trim()];
  });
  const header = ['MAILSTORE', 'STATE', 'WAITING', 'DEFERRED', 'ACTIVE', 'FAILED', 'OLDEST', 'EXPIRING', 'DETAIL'];
  const table = formatTable(header, rows);
  const windows = statuses.flatMap(({ mailstore, windows }) =>
    windows.map((window) => [
      mailstore,
      iso(window.from),
      iso(window.until),
      window.startedAt === undefined ? 'waiting' : 'running',
      `${window.reason} (by ${window.by})`,
    ]),
  );
  if (windows.length === 0) return table;
  return `${table}\n\nMAINTENANCE WINDOWS\n${formatTable(['MAILSTORE', 'FROM', 'UNTIL', 'STATE', 'REASON'], windows)}`;
}

function formatTable(header: string[], rows: Array<Array<string | number>>): string {
  const table = [header, ...rows].map((row) => row.map(String));
  const widths = header.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  return table
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const WINDOW_VERBS = { 'schedule-window': 'scheduled', 'cancel-window': 'cancelled', 'drop-window': 'dropped' };

/** One audit entry in a line: a state change, an action on messages, a window, or a store's settings. */
function auditLine(entry: AuditEntry): string {
  let what: string;
  if ('filter' in entry) what = `${entry.action} ${entry.count} (${entry.filter})`;
  else if ('window' in entry) {
    const { from, until } = entry.window;
    what = `${entry.mailstore}  window ${iso(from)} to ${iso(until)} ${WINDOW_VERBS[entry.action]}`;
  } else if ('from' in entry) what = `${entry.mailstore}  ${entry.from} -> ${entry.to}`;
  else {
    const detail = entry.to ?? entry.endpoints?.join(',') ?? '';
    what = `${entry.mailstore}  ${entry.action}${detail ? ` ${detail}` : ''}`;
  }
  return `${iso(entry.at)}  ${what}  by ${entry.by}: ${entry.reason}`;
}

export function registerMailstoreCommands(program: Command, loadConfig: ConfigLoader, defaultConfig: string): void {
  const action = (run: (context: OperatorContext<Options>, ...positional: string[]) => Promise<string>) =>
    operatorAction<Options>(loadConfig, (error) => error instanceof MailstoreAdminError, run);
  program
    .command('hold <mailstore>')
    .description('stop delivery attempts to a mailstore; its mail keeps being accepted and queued')
    .requiredOption('-r, --reason <text>', 'why (kept in the audit trail)')
    .option('--until <time>', 'lift the hold by itself at this ISO time, or after this long (e.g. 2h)')
    .option('--from <time>', 'a maintenance window: hold from this ISO time, or in this long (e.g. 1h), to --until')
    .option('--by <name>', 'who holds it (default: your login)')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .action(
      action(async (context, mailstore = '') => {
        const { reason = '', by, until, from } = context.options;
        const now = Date.now();
        const untilTime = until === undefined ? undefined : parseTime('until', until, now);
        const fromTime = from === undefined ? undefined : parseTime('from', from, now);
        if (fromTime !== undefined && untilTime === undefined)
          throw new MailstoreAdminError('--from needs --until: a maintenance window has an end');
        if (fromTime !== undefined && untilTime !== undefined && fromTime > now) {
          const window = await withAdmin(context, (admin) =>
            admin.scheduleHold(mailstore, { from: fromTime, until: untilTime, reason, by: operatorName(by) }),
          );
          return `${mailstore}: hold scheduled from ${iso(window.from)} to ${iso(window.until)}: ${reason}`;
        }
        await withAdmin(context, (admin) => admin.hold(mailstore, { reason, by: operatorName(by), until: untilTime }));
        return `${mailstore} held: ${reason}`;
      }),
    );
  program
    .command('cancel-window <mailstore>')
    .description('cancel the maintenance windows of a mailstore that have not started yet')
    .option('-r, --reason <text>', 'why (kept in the audit trail)')
    .option('--by <name>', 'who cancels them (default: your login)')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .action(
      action(async (context, mailstore = '') => {
        const { reason, by } = context.options;
        const cancelled = await withAdmin(context, (admin) =>
          admin.cancelWindows(mailstore, { by: operatorName(by), reason }),
        );
        return cancelled
          .map((window) => `${mailstore}: cancelled the window from ${iso(window.from)} to ${iso(window.until)}`)
          .join('\n');
      }),
    );
  program
    .command('release <mailstore>')
    .description('let delivery to a held, tripped or guarded mailstore resume, paced by the ramp')
    .option('-r, --reason <text>', 'why (kept in the audit trail)')
    .option('--rate <msgs-per-second>', 'deliver at this rate instead of the ramp (until the queue is empty)')
    .option('--concurrency <connections>', 'with this many connections instead of the ramp')
    .option('--by <name>', 'who releases it (default: your login)')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .action(
      action(async (context, mailstore = '') => {
        const { reason, by } = context.options;
        const rate = positive('rate', context.options.rate);
        const concurrency = positive('concurrency', context.options.concurrency);
        const state = await withAdmin(context, (admin) =>
          admin.release(mailstore, {
            by: operatorName(by),
            reason,
            rate,
            concurrency: concurrency && Math.round(concurrency),
          }),
        );
        const pace = state.kind === 'releasing' ? ` at ${state.rate} msgs/s, ${state.concurrency} connections` : '';
        return `${mailstore} released${pace}`;
      }),
    );
  program
    .command('confirm-bounces <mailstore>')
    .description('end a guard by bouncing the recipients it kept (release retries them instead)')
    .option('-r, --reason <text>', 'why (kept in the audit trail)')
    .option('--by <name>', 'who decides (default: your login)')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .action(
      action(async (context, mailstore = '') => {
        const { reason, by } = context.options;
        await withAdmin(context, (admin) => admin.confirmBounces(mailstore, { by: operatorName(by), reason }));
        return `${mailstore}: bounces confirmed, delivery resumed`;
      }),
    );
  program
    .command('status')
    .description('every mailstore: state, queued mail and maintenance windows')
    .option('--json', 'machine-readable output')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .action(
      action(async (context) => {
        const statuses = await withAdmin(context, (admin) => admin.status());
        return context.options.json ? JSON.stringify(statuses, null, 2) : statusTable(statuses);
      }),
    );
  program
    .command('audit')
    .description('the audit trail of mailstore state changes, newest first')
    .option('-n, --limit <count>', 'how many entries', '20')
    .option('--json', 'machine-readable output')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .action(
      action(async (context) => {
        const entries = await withAdmin(context, (admin) => admin.audit(Number(context.options.limit ?? 20)));
        if (context.options.json) return JSON.stringify(entries, null, 2);
        return entries.map(auditLine).join('\n');
      }),
    );
}

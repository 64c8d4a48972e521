// `holdfast hold|release|status|audit`: operate mailstores from the command line.
import type { Command } from 'commander';
import { MailstoreAdmin, MailstoreAdminError, type MailstoreStatus } from '../admin/mailstores.js';
import { parseDuration } from '../config/units.js';
import type { AuditEntry } from '../policy/mailstore-state.js';
import { createLogger } from '../observability/logger.js';
import { createKeys } from '../queue/keys.js';
import { MailQueues } from '../queue/queues.js';
import { MailstoreControls } from '../queue/mailstore-controls.js';
import { operatorAction, operatorName, type ConfigLoader, type OperatorContext } from './connect.js';

type Options = {
  config: string;
  reason?: string;
  by?: string;
  until?: string;
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

/** "--until" accepts an ISO time or a duration from now ("2h"). */
export function parseUntil(text: string, now: number): number {
  const duration = parseDuration(text);
  if (duration !== undefined) return now + duration;
  const time = Date.parse(text);
  if (Number.isNaN(time)) throw new MailstoreAdminError(`--until: not a time or a duration: ${text}`);
  return time;
}

async function withAdmin<T>(context: OperatorContext<Options>, run: (admin: MailstoreAdmin) => Promise<T>): Promise<T> {
  const { config, redis } = context;
  const queues = new MailQueues(
    redis,
    createKeys(config.redis.prefix),
    Object.keys(config.mailstores),
    () => undefined,
  );
  try {
    const openRate = (mailstore: string) => config.mailstores[mailstore]?.rate ?? 0;
    const controls = new MailstoreControls(redis, createKeys(config.redis.prefix), queues, 5000, openRate);
    // The audit trail is the record of operator actions; the CLI's own log goes to stderr.
    return await run(new MailstoreAdmin(config, controls, createLogger('warn', process.stderr)));
  } finally {
    await queues.close();
  }
}

function statusTable(statuses: MailstoreStatus[]): string {
  const rows = statuses.map(({ mailstore, state, counts, progress }) => {
    if (state.kind === 'releasing') {
      const eta = Number.isFinite(progress?.etaSeconds) ? ` ETA ${progress?.etaSeconds ?? 0}s` : '';
      const detail = `${state.rate} msgs/s, ${state.concurrency} connections${state.explicit ? ' (explicit)' : ''}, ${progress?.remaining ?? 0} remaining${eta}`;
      return [mailstore, state.kind, counts.waiting, counts.delayed, counts.active, counts.failed, detail];
    }
    const until = state.kind === 'held' && state.until ? ` until ${new Date(state.until).toISOString()}` : '';
    const detail =
      state.kind === 'open'
        ? ''
        : `${state.reason} (by ${state.by} since ${new Date(state.since).toISOString()}${until})`;
    return [mailstore, state.kind, counts.waiting, counts.delayed, counts.active, counts.failed, detail];
  });
  const header = ['MAILSTORE', 'STATE', 'WAITING', 'DEFERRED', 'ACTIVE', 'FAILED', 'DETAIL'];
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

function auditLine(entry: AuditEntry): string {
  const time = (at: number) => new Date(at).toISOString();
  let what: string;
  if (entry.action === 'delete') what = `deleted ${entry.count} (${entry.filter})`;
  else if ('window' in entry) {
    const { from, until } = entry.window;
    what = `${entry.mailstore}  window ${time(from)} to ${time(until)} ${WINDOW_VERBS[entry.action]}`;
  } else what = `${entry.mailstore}  ${entry.from} -> ${entry.to}`;
  return `${time(entry.at)}  ${what}  by ${entry.by}: ${entry.reason}`;
}

export function registerMailstoreCommands(program: Command, loadConfig: ConfigLoader, defaultConfig: string): void {
  const action = (run: (context: OperatorContext<Options>, ...positional: string[]) => Promise<string>) =>
    operatorAction<Options>(loadConfig, (error) => error instanceof MailstoreAdminError, run);
  program
    .command('hold <mailstore>')
    .description('stop delivery attempts to a mailstore; its mail keeps being accepted and queued')
    .requiredOption('-r, --reason <text>', 'why (kept in the audit trail)')
    .option('--until <time>', 'lift the hold by itself at this ISO time, or after this long (e.g. 2h)')
    .option('--by <name>', 'who holds it (default: your login)')
    .option('-c, --config <file>', 'configuration file', defaultConfig)
    .action(
      action(async (context, mailstore = '') => {
        const { reason = '', by, until } = context.options;
        const untilTime = until === undefined ? undefined : parseUntil(until, Date.now());
        await withAdmin(context, (admin) => admin.hold(mailstore, { reason, by: operatorName(by), until: untilTime }));
        return `${mailstore} held: ${reason}`;
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
    .description('every mailstore: state and queued mail')
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

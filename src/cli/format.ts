// How operator commands print: tables, ages, audit lines (pure, shared by the commands).
import { SHAPE_MINUTES } from '../admin/api.js';
import type { MailstoreStatus } from '../admin/mailstores.js';

/** A store's last error is shown in the status while it is younger than this. */
const RECENT_ERROR_MS = 3600_000;
import type { AuditEntry } from '../policy/mailstore-state.js';
import { elapsedSince } from '../clock.js';

export function iso(time: number): string {
  return new Date(time).toISOString();
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

export function statusTable(statuses: MailstoreStatus[]): string {
  const rows = statuses.map(({ mailstore, state, counts, progress, backlog, overrides, lastError }) => {
    const recentError = lastError && elapsedSince(lastError.at) < RECENT_ERROR_MS ? lastError : undefined;
    const live = [
      overrides?.movedTo === undefined ? '' : ` [mail moved to ${overrides.movedTo}]`,
      overrides?.endpoints === undefined ? '' : ` [endpoints ${overrides.endpoints.join(',')}]`,
      recentError
        ? ` [last error ${shortAge(Math.round(elapsedSince(recentError.at) / 1000))} ago: ${recentError.error}]`
        : '',
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
  const shapeHeader = ['AGE (MINUTES)', 'T', ...SHAPE_MINUTES.map(String), `${SHAPE_MINUTES.at(-1)}+`];
  const shapes = statuses.map(({ mailstore, backlog }) => [mailstore, backlog.messages, ...backlog.shape]);
  const table = `${formatTable(header, rows)}\n\nQUEUE SHAPE\n${formatTable(shapeHeader, shapes)}`;
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

export function formatTable(header: string[], rows: Array<Array<string | number>>): string {
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
export function auditLine(entry: AuditEntry): string {
  let what: string;
  if ('filter' in entry) what = `${entry.action} ${entry.count} (${entry.filter})`;
  else if ('window' in entry) {
    const { from, until } = entry.window;
    what = `${entry.mailstore}  window ${iso(from)} to ${iso(until)} ${WINDOW_VERBS[entry.action]}`;
  } else if ('since' in entry) {
    const only = entry.recipient === undefined ? '' : ` for ${entry.recipient}`;
    what = `${entry.mailstore}  replay ${entry.count} messages delivered ${iso(entry.since)} to ${iso(entry.until)}${only}`;
  } else if ('from' in entry) what = `${entry.mailstore}  ${entry.from} -> ${entry.to}`;
  else {
    const detail = entry.to ?? entry.endpoints?.join(',') ?? '';
    what = `${entry.mailstore}  ${entry.action}${detail ? ` ${detail}` : ''}`;
  }
  return `${iso(entry.at)}  ${what}  by ${entry.by}: ${entry.reason}`;
}

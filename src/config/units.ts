// Parsers for the human units used in the config file: durations, byte sizes and retry schedules.

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** Parses "250ms", "30s", "5m", "2h", "5d" (or a bare number of milliseconds) into milliseconds. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/i.exec(text);
  if (!match) return undefined;
  const [, amount, unit] = match;
  return Math.round(Number(amount) * (DURATION_UNITS[unit!.toLowerCase()] ?? Number.NaN));
}

/** Parses "50MB", "512kb", "1gb" (or a bare number of bytes) into bytes. */
export function parseSize(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isInteger(text) && text >= 0 ? text : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(text);
  if (!match) return undefined;
  const [, amount, unit] = match;
  return Math.round(Number(amount) * (SIZE_UNITS[(unit ?? 'b').toLowerCase()] ?? Number.NaN));
}

/**
 * Parses a retry schedule written for operators, Haraka style: "1m,5m*2,1h*3" means
 * 1 minute, then 5 minutes twice, then 1 hour three times. The last interval repeats until the
 * message's lifetime ends. Returns the intervals in milliseconds.
 */
export function parseRetrySchedule(text: string): number[] | undefined {
  const intervals: number[] = [];
  for (const step of text.split(',')) {
    const match = /^\s*([^*\s]+)\s*(?:\*\s*(\d+))?\s*$/.exec(step);
    if (!match) return undefined;
    const interval = parseDuration(match[1]!);
    const times = match[2] === undefined ? 1 : Number(match[2]);
    if (interval === undefined || interval <= 0 || times < 1 || times > 1000) return undefined;
    for (let index = 0; index < times; index++) intervals.push(interval);
  }
  return intervals.length > 0 ? intervals : undefined;
}

/** Parses "host:port" or "[v6 address]:port" (port 1-65535). */
/** A mailstore's endpoint: host and port, or the path of a unix socket (a store on the same machine). */
export type StoreEndpoint = { host: string; port: number } | { path: string };

/** `host:port`, `[v6]:port` or `unix:/absolute/path`. */
export function parseEndpoint(text: string): StoreEndpoint | undefined {
  if (text.startsWith('unix:')) {
    const path = text.slice('unix:'.length);
    return path.startsWith('/') && !path.includes('\0') ? { path } : undefined;
  }
  return parseHostPort(text);
}

/** How an endpoint is written (in the config, the logs, the status and the API). */
export function endpointName(endpoint: StoreEndpoint): string {
  return 'path' in endpoint ? `unix:${endpoint.path}` : `${endpoint.host}:${endpoint.port}`;
}

export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) return undefined;
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

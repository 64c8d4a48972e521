// Loads the YAML config file, applies environment overrides, validates it once and freezes it.
import { readFileSync, accessSync, constants } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { configSchema, crossCheck, type Config } from './schema.js';
import { parseRouteLines } from '../routing/user-file.js';

export type LoadResult = { ok: true; config: Config } | { ok: false; problems: string[] };

/** Environment variables that override the file: secrets and the Redis location stay out of it. */
export const ENVIRONMENT_OVERRIDES = {
  HOLDFAST_REDIS_URL: 'redis.url',
  HOLDFAST_REDIS_PASSWORD: 'redis.password',
  HOLDFAST_LOG_LEVEL: 'log.level',
  HOLDFAST_ADMIN_TOKEN: 'admin.token',
} as const;

export function loadConfigFile(path: string, environment: NodeJS.ProcessEnv = process.env): LoadResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return { ok: false, problems: [`cannot read config file ${path}: ${(error as Error).message}`] };
  }
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (error) {
    return { ok: false, problems: [`${path}: invalid YAML: ${(error as Error).message}`] };
  }
  return validateConfig(raw, { baseDirectory: dirname(resolve(path)), environment });
}

export function validateConfig(
  raw: unknown,
  options: { baseDirectory: string; environment?: NodeJS.ProcessEnv },
): LoadResult {
  const withEnvironment = applyEnvironment(raw, options.environment ?? {});
  const parsed = configSchema.safeParse(withEnvironment);
  const crossProblems = crossCheck(withEnvironment);
  if (!parsed.success) {
    const schemaProblems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(top level)'}: ${issue.message}`,
    );
    return { ok: false, problems: [...schemaProblems, ...crossProblems] };
  }
  const config = normalise(parsed.data, options.baseDirectory);
  const problems = [...crossProblems, ...checkFiles(config), ...mergeRoutingFile(config), ...adminToken(config)];
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, config: deepFreeze(config) };
}

function applyEnvironment(raw: unknown, environment: NodeJS.ProcessEnv): unknown {
  const copy = structuredClone(typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  // A section left with only comments in YAML is null: treat it as empty, defaults apply.
  for (const [section, value] of Object.entries(copy)) if (value === null) delete copy[section];
  for (const [variable, path] of Object.entries(ENVIRONMENT_OVERRIDES)) {
    const value = environment[variable];
    if (value === undefined || value === '') continue;
    const [section, key] = path.split('.') as [string, string];
    const target = (copy[section] ??= {}) as unknown;
    // A section that is not a mapping is reported by the schema; do not write into it.
    if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
      (target as Record<string, unknown>)[key] = value;
    }
  }
  return copy;
}

function normalise(config: Config, baseDirectory: string): Config {
  config.domains = Object.fromEntries(
    Object.entries(config.domains).map(([name, value]) => [name.toLowerCase(), value]),
  );
  config.routing.users = Object.fromEntries(
    Object.entries(config.routing.users).map(([address, store]) => [address.toLowerCase(), store]),
  );
  config.redis.embedded.dir = resolve(baseDirectory, config.redis.embedded.dir);
  if (config.routing.file) config.routing.file = resolve(baseDirectory, config.routing.file);
  if (config.admin.tokenFile) config.admin.tokenFile = resolve(baseDirectory, config.admin.tokenFile);
  for (const { tls } of [config.listener, ...(config.listeners ?? [])]) {
    if (!tls) continue;
    tls.key = resolve(baseDirectory, tls.key);
    tls.cert = resolve(baseDirectory, tls.cert);
  }
  config.bounces.sender ??= `MAILER-DAEMON@${config.listener.hostname}`;
  return config;
}

function checkFiles(config: Config): string[] {
  const problems: string[] = [];
  const readable = (path: string, setting: string) => {
    try {
      accessSync(path, constants.R_OK);
    } catch {
      problems.push(`${setting}: cannot read ${path}`);
    }
  };
  if (config.listener.tls) {
    readable(config.listener.tls.key, 'listener.tls.key');
    readable(config.listener.tls.cert, 'listener.tls.cert');
  }
  (config.listeners ?? []).forEach(({ tls }, index) => {
    if (!tls) return;
    readable(tls.key, `listeners.${index}.tls.key`);
    readable(tls.cert, `listeners.${index}.tls.cert`);
  });
  if (config.routing.file) readable(config.routing.file, 'routing.file');
  return problems;
}

/** Reads the admin token file, and refuses an admin API reachable beyond loopback without a token. */
function adminToken(config: Config): string[] {
  const { admin } = config;
  if (admin.tokenFile && admin.token === undefined) {
    try {
      admin.token = readFileSync(admin.tokenFile, 'utf8').trim();
    } catch (error) {
      return [`admin.tokenFile: cannot read ${admin.tokenFile}: ${(error as Error).message}`];
    }
    if (admin.token.length < 16) return [`admin.tokenFile: the token needs at least 16 characters`];
  }
  if (admin.enabled && !isLoopback(admin.host) && admin.token === undefined) {
    return [
      `admin.host: ${admin.host} is reachable beyond this machine: set a token (HOLDFAST_ADMIN_TOKEN, admin.tokenFile or admin.token)`,
    ];
  }
  return [];
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** File entries come first; entries written inline in the config win over them. */
function mergeRoutingFile(config: Config): string[] {
  const file = config.routing.file;
  if (!file) return [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return []; // already reported by checkFiles
  }
  const { entries, problems } = parseRouteLines(text, file);
  const fromFile: Record<string, string> = {};
  for (const { address, mailstore } of entries) {
    if (!(mailstore in config.mailstores)) problems.push(`${file}: ${address}: unknown mailstore "${mailstore}"`);
    fromFile[address] = mailstore;
  }
  config.routing.users = { ...fromFile, ...config.routing.users };
  return problems;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

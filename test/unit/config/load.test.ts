// Unit tests for loading and validating the config: defaults, every problem listed, env overrides, routing file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfigFile, validateConfig, type LoadResult } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';

const EXAMPLE_CONFIG = fileURLToPath(new URL('../../../config/holdfast.example.yaml', import.meta.url));

const MINIMAL = {
  domains: { 'example.com': { mailstore: 'store1' } },
  mailstores: { store1: { endpoints: ['127.0.0.1:24'] } },
};

function validConfig(result: LoadResult): Config {
  if (!result.ok) throw new Error(`expected a valid config, got problems:\n${result.problems.join('\n')}`);
  return result.config;
}

function problemsOf(result: LoadResult): string[] {
  if (result.ok) throw new Error('expected the config to be refused');
  return result.problems;
}

describe('validateConfig', () => {
  it('fills in the defaults for a minimal config', () => {
    const config = validConfig(validateConfig(MINIMAL, { baseDirectory: '/etc/holdfast' }));
    expect(config.limits.maxMessageSize).toBe(50 * 1024 * 1024);
    expect(config.limits.maxRecipients).toBe(1000);
    expect(config.listener.port).toBe(25);
    expect(config.redis.prefix).toBe('hf');
    expect(config.redis.durability).toBe('strict');
    expect(config.domains['example.com']?.rejectUnknownUsers).toBe(true);
    const store = config.mailstores.store1;
    expect(store?.lifetime).toBe(5 * 24 * 3_600_000);
    expect(store?.protocol).toBe('lmtp');
    expect(store?.concurrency).toBe(10);
    expect(store?.retry).toEqual([60_000, 300_000, 300_000, 900_000, 900_000, 900_000, 900_000, 3_600_000]);
    expect(store?.endpoints).toEqual([{ host: '127.0.0.1', port: 24 }]);
    expect(store?.timeouts).toEqual({ connect: 10_000, greeting: 30_000, socket: 300_000 });
    expect(config.shutdown.grace).toBe(30_000);
    expect(config.log.level).toBe('info');
    expect(config.trace).toEqual({
      retention: 7 * 24 * 3_600_000,
      maxEventsPerMessage: 200,
      maxMessagesPerRecipient: 1000,
    });
  });

  it('refuses a trace retention under a minute', () => {
    const raw = { ...MINIMAL, trace: { retention: '10s' } };
    expect(problemsOf(validateConfig(raw, { baseDirectory: '/' }))).toEqual([
      'trace.retention: the trace retention is at least 1m',
    ]);
  });

  it('defaults the bounce sender to MAILER-DAEMON at the listener hostname', () => {
    const raw = { ...MINIMAL, listener: { hostname: 'mx.example.net' } };
    const config = validConfig(validateConfig(raw, { baseDirectory: '/etc/holdfast' }));
    expect(config.bounces.sender).toBe('MAILER-DAEMON@mx.example.net');
  });

  it('resolves the embedded Redis directory against the config file directory', () => {
    const config = validConfig(validateConfig(MINIMAL, { baseDirectory: '/etc/holdfast' }));
    expect(config.redis.embedded.dir).toBe(resolve('/etc/holdfast', 'var/redis'));
  });

  it('reads an IPv6 endpoint in brackets', () => {
    const raw = { ...MINIMAL, mailstores: { store1: { endpoints: ['[::1]:24'] } } };
    const config = validConfig(validateConfig(raw, { baseDirectory: '/' }));
    expect(config.mailstores.store1?.endpoints).toEqual([{ host: '::1', port: 24 }]);
  });

  it('reads a unix socket endpoint, and refuses a relative path', () => {
    const raw = { ...MINIMAL, mailstores: { store1: { endpoints: ['unix:/run/cyrus/socket/lmtp'] } } };
    expect(validConfig(validateConfig(raw, { baseDirectory: '/' })).mailstores.store1?.endpoints).toEqual([
      { path: '/run/cyrus/socket/lmtp' },
    ]);
    const relative = { ...MINIMAL, mailstores: { store1: { endpoints: ['unix:run/lmtp'] } } };
    expect(problemsOf(validateConfig(relative, { baseDirectory: '/' })).join('\n')).toContain('unix:/path');
  });

  it('takes a store password or a password file, not both and not neither, and a file that exists', () => {
    const withAuth = (auth: object) => ({ ...MINIMAL, mailstores: { store1: { endpoints: ['127.0.0.1:24'], auth } } });
    expect(
      validConfig(validateConfig(withAuth({ user: 'hf', pass: 'x' }), { baseDirectory: '/' })).mailstores.store1?.auth,
    ).toEqual({ user: 'hf', pass: 'x' });
    for (const auth of [{ user: 'hf' }, { user: 'hf', pass: 'x', passFile: '/etc/hostname' }])
      expect(problemsOf(validateConfig(withAuth(auth), { baseDirectory: '/' })).join('\n')).toContain(
        'exactly one of pass and passFile',
      );
    expect(
      problemsOf(validateConfig(withAuth({ user: 'hf', passFile: '/no/such/file' }), { baseDirectory: '/' })).join(
        '\n',
      ),
    ).toContain('does not exist');
  });

  it('freezes the config it returns, down to nested sections', () => {
    const config = validConfig(validateConfig(MINIMAL, { baseDirectory: '/' }));
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.limits)).toBe(true);
    expect(Object.isFrozen(config.mailstores.store1?.retry)).toBe(true);
    expect(() => {
      (config.limits as { maxRecipients: number }).maxRecipients = 1;
    }).toThrow(TypeError);
  });

  it('does not change the object it was given', () => {
    const raw = structuredClone({ ...MINIMAL, domains: { 'Example.COM': { mailstore: 'store1' } } });
    validConfig(validateConfig(raw, { baseDirectory: '/', environment: { HOLDFAST_REDIS_URL: 'redis://r:6379' } }));
    expect(raw).toEqual({ ...MINIMAL, domains: { 'Example.COM': { mailstore: 'store1' } } });
  });

  it('lowercases domain names and routing addresses', () => {
    const raw = {
      ...MINIMAL,
      domains: { 'Example.COM': { mailstore: 'store1' } },
      routing: { users: { 'Alice@Example.COM': 'store1' } },
    };
    const config = validConfig(validateConfig(raw, { baseDirectory: '/' }));
    expect(Object.keys(config.domains)).toEqual(['example.com']);
    expect(config.routing.users).toEqual({ 'alice@example.com': 'store1' });
  });

  it('treats a section left empty in YAML (null) as all defaults', () => {
    const raw = { ...MINIMAL, limits: null, redis: null };
    const config = validConfig(validateConfig(raw, { baseDirectory: '/' }));
    expect(config.limits.maxMessageSize).toBe(50 * 1024 * 1024);
  });

  it('reports a domain naming an unknown mailstore even when the rest is valid', () => {
    const raw = { ...MINIMAL, domains: { 'example.com': { mailstore: 'store2' } } };
    expect(problemsOf(validateConfig(raw, { baseDirectory: '/' }))).toEqual([
      'domains.example.com.mailstore: unknown mailstore "store2"',
    ]);
  });

  it('reports a routing entry naming an unknown mailstore', () => {
    const raw = { ...MINIMAL, routing: { users: { 'bob@example.com': 'store9' } } };
    expect(problemsOf(validateConfig(raw, { baseDirectory: '/' }))).toEqual([
      'routing.users.bob@example.com: unknown mailstore "store9"',
    ]);
  });

  it('refuses a mailstore id containing a colon', () => {
    const raw = { ...MINIMAL, mailstores: { ...MINIMAL.mailstores, 'bad:id': { endpoints: ['127.0.0.1:25'] } } };
    const problems = problemsOf(validateConfig(raw, { baseDirectory: '/' }));
    expect(problems.some((problem) => problem.startsWith('mailstores.bad:id'))).toBe(true);
  });

  it('refuses a domain whose mailstore id contains a colon', () => {
    const raw = { ...MINIMAL, domains: { 'example.com': { mailstore: 'a:b' } } };
    const problems = problemsOf(validateConfig(raw, { baseDirectory: '/' }));
    expect(problems).toContain('domains.example.com.mailstore: mailstore ids are letters, digits, _ . - (no ":")');
  });

  it('needs at least one domain and one mailstore', () => {
    const problems = problemsOf(validateConfig({ domains: {}, mailstores: {} }, { baseDirectory: '/' }));
    expect(problems).toEqual([
      'domains: at least one local domain is needed',
      'mailstores: at least one mailstore is needed',
    ]);
  });

  it('refuses both a Redis url and sentinels', () => {
    const raw = { ...MINIMAL, redis: { url: 'redis://r:6379', sentinels: [{ host: 's', port: 26379 }] } };
    const problems = problemsOf(validateConfig(raw, { baseDirectory: '/' }));
    expect(problems).toEqual(['redis: give one of url, sentinels or cluster']);
  });

  it('refuses a Cluster with a url or a braced prefix, each problem listed', () => {
    const cluster = { nodes: [{ host: 'c1', port: 6379 }] };
    const raw = { ...MINIMAL, redis: { url: 'redis://r:6379', cluster, prefix: '{hf}' } };
    const problems = problemsOf(validateConfig(raw, { baseDirectory: '/' }));
    expect(problems).toEqual([
      'redis: give one of url, sentinels or cluster',
      'redis.prefix: with cluster, the prefix must not contain { or }: each mailstore hash-tags its own keys',
    ]);
    const valid = validateConfig({ ...MINIMAL, redis: { cluster } }, { baseDirectory: '/' });
    expect(valid.ok).toBe(true);
  });

  it('reports TLS files it cannot read', () => {
    const raw = { ...MINIMAL, listener: { tls: { key: 'missing-key.pem', cert: 'missing-cert.pem' } } };
    const problems = problemsOf(validateConfig(raw, { baseDirectory: '/nonexistent-holdfast' }));
    expect(problems).toEqual([
      'listener.tls.key: cannot read /nonexistent-holdfast/missing-key.pem',
      'listener.tls.cert: cannot read /nonexistent-holdfast/missing-cert.pem',
    ]);
  });

  describe('environment overrides', () => {
    it('takes the Redis url and password from the environment over the file', () => {
      const raw = { ...MINIMAL, redis: { url: 'redis://file:6379', password: 'from-file' } };
      const environment = { HOLDFAST_REDIS_URL: 'redis://env:6379', HOLDFAST_REDIS_PASSWORD: 'from-env' };
      const config = validConfig(validateConfig(raw, { baseDirectory: '/', environment }));
      expect(config.redis.url).toBe('redis://env:6379');
      expect(config.redis.password).toBe('from-env');
    });

    it('reports a section that is not a mapping instead of crashing on its override', () => {
      const environment = { HOLDFAST_REDIS_URL: 'redis://env:6379' };
      const problems = problemsOf(validateConfig({ ...MINIMAL, redis: 'x' }, { baseDirectory: '/', environment }));
      expect(problems).toContainEqual(expect.stringMatching(/^redis: /));
    });

    it('creates the redis section when the file has none', () => {
      const environment = { HOLDFAST_REDIS_URL: 'redis://env:6379' };
      const config = validConfig(validateConfig(MINIMAL, { baseDirectory: '/', environment }));
      expect(config.redis.url).toBe('redis://env:6379');
    });

    it('takes the log level from the environment', () => {
      const environment = { HOLDFAST_LOG_LEVEL: 'debug' };
      const config = validConfig(validateConfig(MINIMAL, { baseDirectory: '/', environment }));
      expect(config.log.level).toBe('debug');
    });

    it('ignores an empty environment variable', () => {
      const raw = { ...MINIMAL, redis: { url: 'redis://file:6379' } };
      const environment = { HOLDFAST_REDIS_URL: '' };
      const config = validConfig(validateConfig(raw, { baseDirectory: '/', environment }));
      expect(config.redis.url).toBe('redis://file:6379');
    });

    it('validates an overridden value like one from the file', () => {
      const environment = { HOLDFAST_REDIS_URL: 'http://not-redis' };
      const problems = problemsOf(validateConfig(MINIMAL, { baseDirectory: '/', environment }));
      expect(problems).toEqual(['redis.url: a redis:// rediss:// or unix:// URL']);
    });
  });
});

describe('loadConfigFile', () => {
  let directory: string;

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'holdfast-config-'));
  });

  afterEach(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  function writeConfig(yaml: string): string {
    const path = join(directory, 'holdfast.yaml');
    writeFileSync(path, yaml);
    return path;
  }

  const MINIMAL_YAML = [
    'domains:',
    '  example.com: { mailstore: store1 }',
    'mailstores:',
    '  store1: { endpoints: ["127.0.0.1:24"] }',
    '  store2: { endpoints: ["127.0.0.1:2424"] }',
  ].join('\n');

  it('validates the example config shipped with Holdfast', () => {
    const config = validConfig(loadConfigFile(EXAMPLE_CONFIG, {}));
    expect(config.listener.hostname).toBe('mx.example.net');
    expect(Object.keys(config.mailstores)).toEqual(['store1', 'store2']);
    expect(config.routing.users).toEqual({ 'alice@example.com': 'store1', 'bob@example.com': 'store2' });
  });

  it('lists every independent mistake in one file', () => {
    const yaml = [
      'listener:',
      '  port: 70000',
      'limits:',
      '  maxMessageSize: huge',
      'domains:',
      '  example.com: { mailstore: nowhere }',
      'mailstores:',
      '  store1: { endpoints: [no-port], retry: "1m,,5m" }',
      '  "bad:id": { endpoints: ["127.0.0.1:24"] }',
      'surprise: true',
    ].join('\n');
    const problems = problemsOf(loadConfigFile(writeConfig(yaml), {}));
    const expected = [
      /^listener\.port: /,
      /^limits\.maxMessageSize: not a size: huge/,
      /^mailstores\.store1\.endpoints\.0: not host:port or unix:\/path: no-port$/,
      /^mailstores\.store1\.retry: not a retry schedule: 1m,,5m/,
      /^mailstores\.bad:id: Invalid key/,
      /^mailstores\.bad:id: ids are letters, digits, _ \. - \(no ":"\)$/,
      /^\(top level\): .*"surprise"/,
      /^domains\.example\.com\.mailstore: unknown mailstore "nowhere"$/,
    ];
    for (const pattern of expected) expect(problems).toContainEqual(expect.stringMatching(pattern));
    expect(problems).toHaveLength(expected.length);
  });

  it('reports a file it cannot read', () => {
    const path = join(directory, 'absent.yaml');
    const problems = problemsOf(loadConfigFile(path, {}));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^cannot read config file .*absent\.yaml/);
  });

  it('reports invalid YAML', () => {
    const problems = problemsOf(loadConfigFile(writeConfig('domains: [unclosed'), {}));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('invalid YAML');
  });

  it('reads an empty file as an empty config and lists what is missing', () => {
    const problems = problemsOf(loadConfigFile(writeConfig(''), {}));
    expect(problems.map((problem) => problem.split(':')[0])).toEqual(['domains', 'mailstores']);
  });

  it('applies environment overrides given to it', () => {
    const environment = { HOLDFAST_REDIS_PASSWORD: 'secret' };
    const config = validConfig(loadConfigFile(writeConfig(MINIMAL_YAML), environment));
    expect(config.redis.password).toBe('secret');
  });

  describe('routing file', () => {
    it('merges its entries, relative to the config file, with inline entries winning', () => {
      writeFileSync(
        join(directory, 'users.csv'),
        ['# address,mailstore', 'Carol@Example.com,store2', 'dave@example.com, store1  # trailing', ''].join('\n'),
      );
      const yaml = `${MINIMAL_YAML}\nrouting:\n  file: users.csv\n  users:\n    dave@example.com: store2\n`;
      const config = validConfig(loadConfigFile(writeConfig(yaml), {}));
      expect(config.routing.file).toBe(join(directory, 'users.csv'));
      expect(config.routing.users).toEqual({ 'carol@example.com': 'store2', 'dave@example.com': 'store2' });
    });

    it('reports a bad line with its line number', () => {
      writeFileSync(join(directory, 'users.csv'), ['alice@example.com,store1', '', 'not-an-address,store1'].join('\n'));
      const yaml = `${MINIMAL_YAML}\nrouting:\n  file: users.csv\n`;
      const problems = problemsOf(loadConfigFile(writeConfig(yaml), {}));
      expect(problems).toEqual([
        `${join(directory, 'users.csv')}:3: expected "address,mailstore", got "not-an-address,store1"`,
      ]);
    });

    it('reports an entry naming an unknown mailstore', () => {
      writeFileSync(join(directory, 'users.csv'), 'erin@example.com,store9\n');
      const yaml = `${MINIMAL_YAML}\nrouting:\n  file: users.csv\n`;
      const problems = problemsOf(loadConfigFile(writeConfig(yaml), {}));
      expect(problems).toEqual([`${join(directory, 'users.csv')}: erin@example.com: unknown mailstore "store9"`]);
    });

    it('reports a routing file it cannot read', () => {
      const yaml = `${MINIMAL_YAML}\nrouting:\n  file: missing.csv\n`;
      const problems = problemsOf(loadConfigFile(writeConfig(yaml), {}));
      expect(problems).toEqual([`routing.file: cannot read ${join(directory, 'missing.csv')}`]);
    });
  });
});

describe('the admin listener settings', () => {
  it('listen on loopback port 8025 without a token by default', () => {
    const config = validConfig(validateConfig(MINIMAL, { baseDirectory: '/' }));
    expect(config.admin).toMatchObject({ enabled: true, host: '127.0.0.1', port: 8025 });
    expect(config.admin.token).toBeUndefined();
  });

  it('refuse an admin API reachable beyond loopback without a token', () => {
    const problems = problemsOf(validateConfig({ ...MINIMAL, admin: { host: '0.0.0.0' } }, { baseDirectory: '/' }));
    expect(problems).toEqual([
      expect.stringMatching(/^admin.host: 0.0.0.0 is reachable beyond this machine: set a token/),
    ]);
  });

  it('take the token from HOLDFAST_ADMIN_TOKEN or a token file, and refuse a short one', () => {
    const environment = { HOLDFAST_ADMIN_TOKEN: 'sixteen-chars-at-least' };
    const fromEnvironment = validateConfig(
      { ...MINIMAL, admin: { host: '0.0.0.0' } },
      { baseDirectory: '/', environment },
    );
    expect(validConfig(fromEnvironment).admin.token).toBe('sixteen-chars-at-least');
    const directory = mkdtempSync(join(tmpdir(), 'holdfast-token-'));
    try {
      writeFileSync(join(directory, 'token'), 'from-a-file-0123456789\n');
      const fromFile = validateConfig({ ...MINIMAL, admin: { tokenFile: 'token' } }, { baseDirectory: directory });
      expect(validConfig(fromFile).admin.token).toBe('from-a-file-0123456789');
      expect(problemsOf(validateConfig({ ...MINIMAL, admin: { token: 'short' } }, { baseDirectory: '/' }))).toEqual([
        'admin.token: an admin token needs at least 16 characters',
      ]);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

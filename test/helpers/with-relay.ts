// The setup most integration tests share: a real Redis, in-process fake mailstores and a relay
// delivering to them, started before the file's tests and stopped after them (and, with `cli`, a
// CLI config file for `holdfast` commands against that relay). Call it inside a describe().
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { AppOptions } from '../../src/app.js';
import { holdfastCli, writeCliConfig } from './cli.js';
import { FakeMailstore } from './mailstore.js';
import { startTestRedis, type TestRedis } from './redis-server.js';
import { startRelay, testConfig, type TestRelay } from './relay.js';

type ConfigOverrides = Parameters<typeof testConfig>[2];

export interface RelayFixtureOptions<S extends string> {
  /** The fake mailstores by id (default store1 and store2, LMTP). */
  stores?: readonly S[];
  /** The config beside testConfig's defaults; a function gets the stores' ports. */
  config?: ConfigOverrides | ((ports: Record<string, number>) => ConfigOverrides);
  /** Options of the relay's App (roles, clock ...). */
  app?: AppOptions;
  /** Write a CLI config for `fixture.cli(...)`. */
  cli?: boolean;
}

export interface RelayFixture<S extends string> {
  readonly redis: TestRedis;
  readonly relay: TestRelay;
  /** The fake mailstores by id, started before the relay. */
  readonly stores: Readonly<Record<S, FakeMailstore>>;
  /** Runs `holdfast ARGS` against the relay (needs `cli: true`). */
  readonly cli: (...args: string[]) => ReturnType<typeof holdfastCli>;
}

export function withRelay<S extends string = 'store1' | 'store2'>(
  options: RelayFixtureOptions<S> = {},
): RelayFixture<S> {
  const ids = options.stores ?? (['store1', 'store2'] as unknown as readonly S[]);
  const stores = Object.fromEntries(ids.map((id) => [id, new FakeMailstore()])) as Record<S, FakeMailstore>;
  let redis: TestRedis | undefined;
  let relay: TestRelay | undefined;
  let directory: string | undefined;
  let configFile: string | undefined;

  beforeAll(async () => {
    redis = await startTestRedis();
    const ports: Record<string, number> = {};
    for (const id of ids) ports[id] = await stores[id].start();
    const overrides = typeof options.config === 'function' ? options.config(ports) : options.config;
    relay = await startRelay(testConfig(redis.url, ports, overrides), options.app);
    if (options.cli) {
      directory = mkdtempSync(join(tmpdir(), 'holdfast-cli-'));
      configFile = writeCliConfig(directory, relay);
    }
  });

  afterAll(async () => {
    await relay?.stop();
    await Promise.all(ids.map((id) => stores[id].stop()));
    await redis?.cleanup();
    if (directory) rmSync(directory, { recursive: true, force: true });
  });

  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`withRelay: ${what} is not started (used outside a test?)`);
    return value;
  };
  return {
    get redis() {
      return started(redis, 'redis');
    },
    get relay() {
      return started(relay, 'the relay');
    },
    stores,
    cli: (...args) => holdfastCli(started(configFile, 'the CLI config (cli: true)'), ...args),
  };
}

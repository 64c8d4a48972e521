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
import { freePort } from './ports.js';
import { merge, startRelay, testConfig, type TestRelay } from './relay.js';

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
  /**
   * Stores that are down when the relay starts: each gets a free port (`fixture.ports`) that
   * nothing listens on; a test brings one up with `fixture.stores.ID.start(fixture.ports.ID)`.
   */
  down?: readonly NoInfer<S>[];
  /** Start an SMTP fake smarthost for bounces (`fixture.smarthost`), named in `bounces.smarthost`. */
  smarthost?: boolean;
  /** Runs after Redis and the stores started, before the relay (stop a store, seed Redis ...). */
  beforeRelay?: (started: { redis: TestRedis; stores: Readonly<Record<S, FakeMailstore>> }) => Promise<void>;
}

export interface RelayFixture<S extends string> {
  readonly redis: TestRedis;
  readonly relay: TestRelay;
  /** The fake mailstores by id, started before the relay. */
  readonly stores: Readonly<Record<S, FakeMailstore>>;
  /** Each store's port (a down store's too). */
  readonly ports: Readonly<Record<S, number>>;
  /** The bounce smarthost (needs `smarthost: true`). */
  readonly smarthost: FakeMailstore;
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
  const ports = {} as Record<S, number>;
  const smarthost = options.smarthost ? new FakeMailstore('smtp') : undefined;
  const down = new Set<S>(options.down ?? []);

  beforeAll(async () => {
    redis = await startTestRedis();
    for (const id of ids) ports[id] = down.has(id) ? await freePort() : await stores[id].start();
    let overrides = typeof options.config === 'function' ? options.config(ports) : options.config;
    if (smarthost)
      overrides = merge({ bounces: { smarthost: `127.0.0.1:${await smarthost.start()}` } }, overrides ?? {});
    await options.beforeRelay?.({ redis, stores });
    relay = await startRelay(testConfig(redis.url, ports, overrides), options.app);
    if (options.cli) {
      directory = mkdtempSync(join(tmpdir(), 'holdfast-cli-'));
      configFile = writeCliConfig(directory, relay);
    }
  });

  afterAll(async () => {
    await relay?.stop();
    await Promise.all([...ids.map((id) => stores[id].stop()), smarthost?.stop()]);
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
    ports,
    get smarthost() {
      return started(smarthost, 'the smarthost (smarthost: true)');
    },
    cli: (...args) => holdfastCli(started(configFile, 'the CLI config (cli: true)'), ...args),
  };
}

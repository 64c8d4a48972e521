// The holdfast command line: start the relay, check a config file.
import { Command } from 'commander';
import { loadConfigFile } from './config/load.js';
import type { Config } from './config/schema.js';
import { registerRouteCommands } from './cli/route.js';
import { registerMailstoreCommands } from './cli/mailstores.js';
import { registerQueueCommands } from './cli/queue.js';
import { registerStoreCommands } from './cli/stores.js';
import { registerTraceCommand } from './cli/trace.js';
import { registerReplayCommand } from './cli/replay.js';

/** sysexits.h EX_CONFIG: the configuration is wrong. */
export const EXIT_CONFIG = 78;
const DEFAULT_CONFIG = process.env.HOLDFAST_CONFIG ?? 'config/holdfast.yaml';

function loadOrExit(path: string): Config {
  const result = loadConfigFile(path);
  if (result.ok) return result.config;
  process.stderr.write(
    `holdfast: invalid configuration in ${path}:\n${result.problems.map((problem) => `  - ${problem}`).join('\n')}\n`,
  );
  process.exit(EXIT_CONFIG);
}

/** A delivery process started by the main one: the main process's Redis (its embedded one, if it runs it), no intake, no admin. */
function asDeliveryProcess(config: Config, url: string | undefined): Config {
  return url ? { ...config, redis: { ...config.redis, url } } : config;
}

async function start(path: string): Promise<void> {
  // The server is loaded only to run it: the operator's commands (status, hold ...) only talk to
  // the admin API, and start in a fraction of the time without it (npm run bench:cli).
  const [{ App }, { DeliveryProcesses, REDIS_URL_VARIABLE, ROLE_VARIABLE, serveMainProcess }, { createLogger }] =
    await Promise.all([
      import('./app.js'),
      import('./process/delivery-processes.js'),
      import('./observability/logger.js'),
    ]);
  const role = process.env[ROLE_VARIABLE];
  const config = role ? asDeliveryProcess(loadOrExit(path), process.env[REDIS_URL_VARIABLE]) : loadOrExit(path);
  const root = createLogger(config.log.level);
  const logger = role ? root.child({ process: role }) : root;
  const separate = !role && config.workers.processes > 0;
  let children: InstanceType<typeof DeliveryProcesses> | undefined;
  const app = new App(
    config,
    logger,
    role
      ? { intake: false, admin: false }
      : {
          delivery: !separate,
          // An operator's `holdfast probe` is answered here, where the admin API is.
          probes: true,
          otherProcesses: separate ? () => children?.childMetrics() ?? Promise.resolve([]) : undefined,
        },
  );
  // The log is written asynchronously: its last lines go out before the process does.
  const exit = (code: number) => root.flush(() => process.exit(code));
  let stopping: Promise<void> | undefined;
  const stop = (signal: string) => {
    logger.info({ signal }, 'signal received');
    // The delivery processes first: they finish their attempts on the Redis the main process may run.
    stopping ??= (children?.stop(config.shutdown.grace) ?? Promise.resolve())
      .then(() => app.stop())
      .then(
        () => exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'error while stopping');
          exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // SIGHUP reads the TLS certificate again; a delivery process has nothing to read (and must not
  // die of the signal's default action when it reaches the whole process group).
  process.on('SIGHUP', () => {
    logger.info({ signal: 'SIGHUP' }, 'signal received');
    if (!role) void app.reload();
  });
  if (role) serveMainProcess(() => app.metrics.countersJson(), stop);
  try {
    await app.start();
  } catch (error) {
    logger.fatal({ err: error }, 'cannot start');
    logger.flush();
    process.exit(1);
  }
  // A stop that came while starting is under way already: no children to start for it.
  if (separate && !stopping) {
    children = new DeliveryProcesses({
      count: config.workers.processes,
      script: process.argv[1]!,
      args: process.argv.slice(2),
      redisUrl: app.embeddedRedisUrl,
      logger,
    });
    children.start();
  }
}

const program = new Command()
  .name('holdfast')
  .description('Holdfast: a resilient inbound MX queueing relay')
  .showHelpAfterError();

program
  .command('start')
  .description('run the relay: SMTP listener and delivery workers')
  .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
  .action((options: { config: string }) => start(options.config));

program
  .command('check-config')
  .description('validate a configuration file, list every problem, exit 78 if any')
  .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
  .action((options: { config: string }) => {
    loadOrExit(options.config);
    process.stdout.write(`${options.config}: ok\n`);
  });

registerRouteCommands(program, loadOrExit, DEFAULT_CONFIG);
registerMailstoreCommands(program, loadOrExit, DEFAULT_CONFIG);
registerQueueCommands(program, loadOrExit, DEFAULT_CONFIG);
registerStoreCommands(program, loadOrExit, DEFAULT_CONFIG);
registerTraceCommand(program, loadOrExit, DEFAULT_CONFIG);
registerReplayCommand(program, loadOrExit, DEFAULT_CONFIG);

await program.parseAsync(process.argv);

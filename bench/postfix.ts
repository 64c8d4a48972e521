// Postfix as the benchmark's peer: the same inbound relay job as Holdfast (accept mail for
// example.com on 127.0.0.1, queue it durably, deliver it over LMTP to the counting sink), as its own
// instance entirely inside a temp dir. Nothing under /etc/postfix or /var/spool/postfix is touched.
//
// `postfix -c DIR` sets MAIL_CONFIG=DIR for postfix-script and master, and master passes it on to
// every daemon (import_environment). Run as root, Postfix takes such a directory without it being
// listed in alternate_config_directories of the default main.cf: that check is only for
// set-gid programs (postdrop, sendmail), which the benchmark does not use. master starts as root and
// each daemon drops to mail_owner (the Debian package's postfix user).
//
// The instance is tuned for the load as an admin would: process limit above the sessions, LMTP
// concurrency as Holdfast's mailstore concurrency, no connection count or rate limit for the one
// client address, no in_flow_delay. cleanup fsyncs each queue file before smtpd answers 250 (Postfix
// has no setting to turn that off): the peer of Redis's appendfsync always. It logs to a file through postlogd (there is no syslog
// here), as Holdfast logs to a file.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readProcStat } from './process-tree.js';

const POSTFIX = '/usr/sbin/postfix';

export interface PostfixSettings {
  /** The instance's own directory: etc/ (config_directory), spool/ (queue), data/, maillog. */
  dir: string;
  /** The smtpd port on 127.0.0.1. */
  port: number;
  /** The counting LMTP sink's port on 127.0.0.1. */
  sinkPort: number;
  /** default_process_limit: room for one smtpd and one cleanup per session, and the rest. */
  processLimit: number;
  /** lmtp_destination_concurrency_limit: as Holdfast's mailstore concurrency. */
  lmtpConcurrency: number;
}

/** Where the instance's parts are inside `dir`. */
export function postfixPaths(dir: string) {
  return {
    config: join(dir, 'etc'),
    queue: join(dir, 'spool'),
    data: join(dir, 'data'),
    log: join(dir, 'maillog'),
  };
}

/** The instance's main.cf. */
export function postfixMainCf(settings: PostfixSettings): string {
  const paths = postfixPaths(settings.dir);
  return `# Postfix peer of the Holdfast benchmark (written by bench/postfix.ts)
compatibility_level = 3.6
queue_directory = ${paths.queue}
data_directory = ${paths.data}
maillog_file = ${paths.log}
maillog_file_prefixes = ${settings.dir}
myhostname = mx-postfix.bench.test
mydomain = bench.test
myorigin = $myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
biff = no

# An inbound relay: mail for example.com, any user (as Holdfast's rejectUnknownUsers: false), to the
# sink over LMTP; no local delivery, nothing else relayed. The client is not trusted (mynetworks empty).
mynetworks =
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
local_transport = error:local delivery is disabled
relay_domains = example.com
relay_recipient_maps =
relay_transport = lmtp:inet:127.0.0.1:${settings.sinkPort}
default_transport = error:outbound mail is disabled
smtpd_relay_restrictions = reject_unauth_destination

# Tuned for the load.
default_process_limit = ${settings.processLimit}
lmtp_destination_concurrency_limit = ${settings.lmtpConcurrency}
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
in_flow_delay = 0
`;
}

/** The instance's master.cf: the smtpd listener on 127.0.0.1:PORT and the daemons a relay needs, none chrooted. */
export function postfixMasterCf(settings: PostfixSettings): string {
  const service = (name: string, type: string, priv: string, wakeup: string, maxproc: string, command: string) =>
    `${name.padEnd(16)} ${type.padEnd(10)} ${priv}  -  n  ${wakeup.padEnd(5)} ${maxproc.padEnd(3)} ${command}`;
  return `${[
    '# service      type       private unpriv chroot wakeup maxproc command (bench/postfix.ts)',
    service(`127.0.0.1:${settings.port}`, 'inet', 'n', '-', '-', 'smtpd'),
    service('pickup', 'unix', 'n', '60', '1', 'pickup'),
    service('cleanup', 'unix', 'n', '-', '0', 'cleanup'),
    service('qmgr', 'unix', 'n', '300', '1', 'qmgr'),
    service('rewrite', 'unix', '-', '-', '-', 'trivial-rewrite'),
    service('bounce', 'unix', '-', '-', '0', 'bounce'),
    service('defer', 'unix', '-', '-', '0', 'bounce'),
    service('trace', 'unix', '-', '-', '0', 'bounce'),
    service('verify', 'unix', '-', '-', '1', 'verify'),
    service('flush', 'unix', 'n', '1000?', '0', 'flush'),
    service('proxymap', 'unix', '-', '-', '-', 'proxymap'),
    service('proxywrite', 'unix', '-', '-', '1', 'proxymap'),
    service('showq', 'unix', 'n', '-', '-', 'showq'),
    service('error', 'unix', '-', '-', '-', 'error'),
    service('retry', 'unix', '-', '-', '-', 'error'),
    service('discard', 'unix', '-', '-', '-', 'discard'),
    service('lmtp', 'unix', '-', '-', '-', 'lmtp'),
    service('anvil', 'unix', '-', '-', '1', 'anvil'),
    service('scache', 'unix', '-', '-', '1', 'scache'),
    service('postlog', 'unix-dgram', 'n', '-', '1', 'postlogd'),
  ].join('\n')}\n`;
}

/** Runs `postfix -c CONFIG ARGS`; fails with its output (and the instance's log) on a non-zero exit. */
function postfix(configDir: string, logPath: string, ...args: string[]): Promise<void> {
  return new Promise((done, fail) => {
    execFile(POSTFIX, ['-c', configDir, ...args], { encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      if (!error) return done();
      // Without a terminal, postfix writes its complaints only to the log.
      const log = existsSync(logPath) ? readFileSync(logPath, 'utf8').split('\n').slice(-20).join('\n') : '';
      fail(new Error(`postfix ${args.join(' ')}: ${error.message}\n${stdout}${stderr}${log}`));
    });
  });
}

/** `postconf -d mail_version`. */
export function postfixVersion(): Promise<string> {
  return new Promise((done) => {
    execFile('/usr/sbin/postconf', ['-dh', 'mail_version'], { encoding: 'utf8' }, (error, stdout) =>
      done(error ? '?' : stdout.trim()),
    );
  });
}

/** PIDs of the processes with MAIL_CONFIG=`configDir` in their environment: this instance's, and no other's. */
function instanceProcesses(configDir: string): number[] {
  const marker = `\0MAIL_CONFIG=${configDir}\0`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (`\0${readFileSync(`/proc/${entry}/environ`, 'latin1')}`.includes(marker)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids.filter((pid) => readProcStat(pid) !== undefined);
}

/** One Postfix instance in a temp dir: `start()` it, and `stop()` it whatever happened in between. */
export class PostfixInstance {
  /** The master daemon, once started: every other process of the instance is its child. */
  masterPid: number | undefined;
  private startAttempted = false;
  private stopped = false;

  constructor(readonly settings: PostfixSettings) {}

  /** Writes the config, checks it, creates the queue and starts the instance (root only). */
  async start(): Promise<void> {
    if (process.getuid?.() !== 0)
      throw new Error(
        'the Postfix comparison runs `postfix start`, which needs root (BENCH_PEER=none: Holdfast alone)',
      );
    if (!existsSync(POSTFIX)) throw new Error(`${POSTFIX} not found (Debian: apt install postfix)`);
    const paths = postfixPaths(this.settings.dir);
    mkdirSync(paths.config, { recursive: true });
    mkdirSync(paths.queue, { recursive: true });
    // Daemons run as the postfix user: they must reach the directories below (the parents too).
    chmodSync(this.settings.dir, 0o755);
    writeFileSync(join(paths.config, 'main.cf'), postfixMainCf(this.settings));
    writeFileSync(join(paths.config, 'master.cf'), postfixMasterCf(this.settings));
    // `check` creates the queue directories (owner postfix) and data/, and fails on a bad config.
    await postfix(paths.config, paths.log, 'check');
    this.startAttempted = true;
    await postfix(paths.config, paths.log, 'start');
    this.masterPid = Number(readFileSync(join(paths.queue, 'pid/master.pid'), 'utf8').trim());
  }

  get logPath(): string {
    return postfixPaths(this.settings.dir).log;
  }

  /** The log lines that say something went wrong (warnings, errors, deferred or bounced mail, rejects). */
  logProblems(): string[] {
    if (!existsSync(this.logPath)) return [];
    return readFileSync(this.logPath, 'utf8')
      .split('\n')
      .filter((line) => /warning:|error:|fatal:|panic:|status=(deferred|bounced)|reject:/.test(line));
  }

  /** How many deliveries the log shows as sent. */
  sentCount(): number {
    if (!existsSync(this.logPath)) return 0;
    return readFileSync(this.logPath, 'utf8').split('status=sent').length - 1;
  }

  /** `postfix stop` (it waits for master to exit), then SIGKILL by PID to any process of the instance left. */
  async stop(): Promise<void> {
    if (this.stopped || !this.startAttempted) return;
    this.stopped = true;
    const paths = postfixPaths(this.settings.dir);
    try {
      await postfix(paths.config, paths.log, 'stop');
    } catch (error) {
      process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    for (let attempt = 0; attempt < 50; attempt++) {
      const left = instanceProcesses(paths.config);
      if (left.length === 0) return;
      if (attempt === 20) {
        process.stderr.write(`bench: Postfix processes ${left.join(' ')} still running; SIGKILL\n`);
        for (const pid of left) process.kill(pid, 'SIGKILL');
      }
      await sleep(100);
    }
  }
}

// Starts a real Cyrus IMAP (Debian's cyrus-imapd) for a test: its own imapd.conf, cyrus.conf, SASL database,
// spool and sockets in a temp dir, lmtpd on a free TCP port (authentication required) and on a unix socket,
// imapd on a free port for the mailbox administration. Never touches /etc/imapd.conf nor /var/lib/cyrus.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

export interface TestCyrus {
  /** lmtpd on 127.0.0.1: it answers `430 Authentication required` at MAIL FROM until AUTH (PLAIN or LOGIN). */
  lmtpPort: number;
  /** lmtpd on this unix socket: Cyrus trusts the peer, no authentication. */
  lmtpSocket: string;
  /** imapd on 127.0.0.1, where the helper creates and deletes mailboxes as the admin `cyrus`. */
  imapPort: number;
  /** The SASL user for LMTP AUTH on `lmtpPort` (in `lmtp_admins`: it may deliver to every mailbox). */
  lmtpUser: string;
  lmtpPassword: string;
  dir: string;
  /** Every message in the user's INBOX, in delivery order, read from the spool (CRLF turned into LF). */
  messages(user: string): string[];
  /** What Cyrus logged (its syslog, captured) and what its master printed, for failure messages. */
  log(): string;
  /** Creates the users' INBOXes (`user.<local part>`); one that exists already is left as it is. */
  createMailboxes(users: readonly string[]): Promise<void>;
  /**
   * Deletes every user's mailboxes (the mailboxes database lost): lmtpd then answers 550 5.1.1 for all.
   * Cyrus's default delete_mode (delayed) keeps them as DELETED.user.*; mailboxes created again are
   * new (empty, a new mailbox id: duplicate suppression does not hold back mail delivered before).
   */
  deleteAllMailboxes(): Promise<void>;
  /** Sets the STORAGE quota of the user's INBOX in kilobytes; null removes it. */
  setQuota(user: string, kilobytes: number | null): Promise<void>;
  /** Stops Cyrus's master (and with it lmtpd and imapd) and waits until every process of it has exited. */
  stop(): Promise<void>;
  /** Starts Cyrus again with the same config, ports, sockets and spool. */
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface CyrusOptions {
  /** Their INBOXes are created at start. */
  users: string[];
  /** imapd.conf settings that replace or add to the helper's, e.g. `{ lmtp_over_quota_perm_failure: '1' }`. */
  settings?: Record<string, string>;
}

const CYRUS_BIN = '/usr/lib/cyrus/bin';
const SERVERNAME = 'cyrus.test';
const ADMIN = 'cyrus';
const LMTP_USER = 'holdfast';
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

export async function startCyrus(options: CyrusOptions): Promise<TestCyrus> {
  const master = `${CYRUS_BIN}/master`;
  const saslpasswd2 = findProgram('saslpasswd2');
  if (!existsSync(master) || !existsSync(`${CYRUS_BIN}/lmtpd`) || !saslpasswd2) {
    throw new Error('Cyrus not found: install cyrus-imapd and sasl2-bin (scripts/install-deps.sh --test)');
  }
  if (process.getuid?.() !== 0) throw new Error('the Cyrus test instance needs root (its processes run as cyrus)');
  const owner = { uid: Number(id('-u', 'cyrus')), gid: Number(id('-g', 'cyrus')) };

  const dir = mkdtempSync(join(tmpdir(), 'holdfast-cyrus-'));
  // Cyrus's processes run as the cyrus user: they must reach the config, the spool and the sockets.
  chmodSync(dir, 0o755);
  const paths = {
    imapdConf: join(dir, 'imapd.conf'),
    cyrusConf: join(dir, 'cyrus.conf'),
    config: join(dir, 'config'),
    spool: join(dir, 'spool'),
    sieve: join(dir, 'sieve'),
    sasldb: join(dir, 'sasldb2'),
    lmtpSocket: join(dir, 'lmtp.sock'),
    syslogSocket: join(dir, 'syslog.sock'),
    pidFile: join(dir, 'master.pid'),
  };
  for (const sub of ['db', 'proc', 'lock', 'socket', 'log', 'msg', 'user', 'quota']) {
    mkdirSync(join(paths.config, sub), { recursive: true });
  }
  mkdirSync(paths.spool);
  mkdirSync(paths.sieve);
  const adminPassword = randomBytes(12).toString('hex');
  const lmtpPassword = randomBytes(12).toString('hex');
  for (const [user, password] of [
    [ADMIN, adminPassword],
    [LMTP_USER, lmtpPassword],
  ] as const) {
    execFileSync(saslpasswd2, ['-p', '-c', '-f', paths.sasldb, '-u', SERVERNAME, user], { input: password });
  }
  chmodSync(paths.sasldb, 0o640);
  for (const path of [paths.config, paths.spool, paths.sieve, paths.sasldb]) chownTree(path, owner);

  const [lmtpPort, imapPort] = [await freePort(), await freePort()];
  const prefix = `hf-${basename(dir)}`;
  writeFileSync(paths.imapdConf, imapdConfig(paths, prefix, options.settings ?? {}), { mode: 0o644 });
  writeFileSync(paths.cyrusConf, cyrusConfig(paths, lmtpPort, imapPort), { mode: 0o644 });

  const syslog = await captureSyslog(paths.syslogSocket);
  // Cyrus logs only to syslog (/dev/log): its master runs in a mount namespace of its own whose /dev is this
  // folder of links to the real devices, plus `log` leading to the helper's socket.
  const isolated = canUnshare();
  if (isolated) linkDevices(dir, paths.syslogSocket);

  let running: Master | undefined;
  let earlierOutput = '';
  const log = () => {
    const output = `${earlierOutput}${running?.output() ?? ''}`;
    const captured = isolated ? syslog.text() : '(no mount namespace here: Cyrus logged to the void)\n';
    return `${captured}${output ? `--- master output ---\n${output}` : ''}`;
  };
  const start = async () => {
    earlierOutput += running?.output() ?? '';
    running = launch(master, ['-C', paths.imapdConf, '-M', paths.cyrusConf, '-p', paths.pidFile, '-D'], dir, isolated);
    try {
      await waitUntilReady(running, { lmtpPort, imapPort, lmtpSocket: paths.lmtpSocket });
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- cyrus log ---\n${log()}`, { cause: error });
    }
  };
  const stop = async () => {
    if (running) await running.stop();
    await reapStragglers(paths.imapdConf);
  };
  const admin = () => ImapConnection.login(imapPort, ADMIN, adminPassword);

  const createMailboxes = async (users: readonly string[]) => {
    const imap = await admin();
    try {
      for (const user of users) {
        const result = await imap.run(`CREATE ${mailboxName(user)}`, { allowNo: true });
        if (result.status !== 'OK' && !/already exists/i.test(result.text)) {
          throw new Error(`cyrus: CREATE ${mailboxName(user)}: ${result.status} ${result.text}`);
        }
      }
    } finally {
      await imap.logout();
    }
  };

  try {
    await start();
    await createMailboxes(options.users);
  } catch (error) {
    await stop();
    const text = log();
    await syslog.close();
    rmSync(dir, { recursive: true, force: true });
    if ((error as Error).message.includes('--- cyrus log ---')) throw error;
    throw new Error(`${(error as Error).message}\n--- cyrus log ---\n${text}`, { cause: error });
  }

  return {
    lmtpPort,
    lmtpSocket: paths.lmtpSocket,
    imapPort,
    lmtpUser: LMTP_USER,
    lmtpPassword,
    dir,
    messages: (user) => readSpool(join(paths.spool, 'user', localPart(user))),
    log,
    createMailboxes,
    async deleteAllMailboxes() {
      const imap = await admin();
      try {
        const listed = await imap.run('LIST "" "user.%"');
        const names = listed.untagged.map(listedName).filter((name): name is string => name !== undefined);
        // Deleting a user's INBOX deletes the user's other mailboxes with it; even an admin needs
        // the right to (x) on the mailbox first.
        for (const name of names) {
          await imap.run(`SETACL ${quote(name)} ${ADMIN} x`);
          await imap.run(`DELETE ${quote(name)}`);
        }
      } finally {
        await imap.logout();
      }
    },
    async setQuota(user, kilobytes) {
      const imap = await admin();
      try {
        const limits = kilobytes === null ? '()' : `(STORAGE ${Math.floor(kilobytes)})`;
        await imap.run(`SETQUOTA ${mailboxName(user)} ${limits}`);
      } finally {
        await imap.logout();
      }
    },
    stop,
    async restart() {
      await stop();
      await start();
    },
    async cleanup() {
      await stop();
      await syslog.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Paths {
  config: string;
  spool: string;
  sieve: string;
  sasldb: string;
  lmtpSocket: string;
  imapdConf: string;
}

function imapdConfig(paths: Paths, prefix: string, settings: Record<string, string>): string {
  const base: Record<string, string> = {
    configdirectory: paths.config,
    defaultpartition: 'default',
    'partition-default': paths.spool,
    sievedir: paths.sieve,
    lmtpsocket: paths.lmtpSocket,
    idlesocket: join(paths.config, 'socket', 'idle'),
    notifysocket: join(paths.config, 'socket', 'notify'),
    servername: SERVERNAME,
    syslog_prefix: prefix,
    // The admin the helper logs in as over IMAP, and the user Holdfast authenticates as over LMTP.
    admins: ADMIN,
    lmtp_admins: LMTP_USER,
    // Passwords from this instance's own SASL database; PLAIN and LOGIN without TLS (loopback only).
    sasl_pwcheck_method: 'auxprop',
    sasl_auxprop_plugin: 'sasldb',
    sasl_sasldb_path: paths.sasldb,
    sasl_mech_list: 'PLAIN LOGIN',
    allowplaintext: 'yes',
    // Debian's choices: "user.alice" with "." as separator; alice@example.com is delivered to user.alice.
    unixhierarchysep: 'no',
    altnamespace: 'no',
    virtdomains: 'off',
    lmtp_downcase_rcpt: 'yes',
    // Spool paths by name (spool/user/alice/1.), not by mailbox id, so that messages() finds them.
    mailbox_legacy_dirs: 'yes',
    hashimapspool: 'no',
    // Cyrus's defaults, written out because the tests rely on them.
    duplicatesuppression: '1',
    lmtp_over_quota_perm_failure: '0',
    lmtp_strict_quota: '0',
  };
  const lines = Object.entries({ ...base, ...settings }).map(([key, value]) => `${key}: ${value}`);
  return `# Generated by test/helpers/cyrus.ts: a private Cyrus instance for a test.\n${lines.join('\n')}\n`;
}

function cyrusConfig(paths: Paths, lmtpPort: number, imapPort: number): string {
  // Every command gets -C: without it a Cyrus program reads the system's /etc/imapd.conf.
  const conf = `-C ${paths.imapdConf}`;
  return `# Generated by test/helpers/cyrus.ts.
START {
  recover cmd="ctl_cyrusdb ${conf} -r"
}
SERVICES {
  imap cmd="imapd ${conf}" listen="127.0.0.1:${imapPort}" prefork=0
  lmtp cmd="lmtpd ${conf}" listen="127.0.0.1:${lmtpPort}" prefork=0
  lmtpunix cmd="lmtpd ${conf}" listen="${paths.lmtpSocket}" prefork=0
}
EVENTS {
}
`;
}

function localPart(user: string): string {
  const local = user.toLowerCase().split('@')[0] ?? '';
  // With "." as the hierarchy separator a local part with a dot would name a sub-mailbox.
  if (!/^[a-z0-9_-]+$/.test(local)) throw new Error(`cyrus helper: unsupported user name ${user}`);
  return local;
}

function mailboxName(user: string): string {
  return `user.${localPart(user)}`;
}

function readSpool(folder: string): string[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((name) => /^\d+\.$/.test(name))
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10))
    .map((name) => readFileSync(join(folder, name), 'utf8').replace(/\r\n/g, '\n'));
}

function id(...args: string[]): string {
  return execFileSync('id', args, { encoding: 'utf8' }).trim();
}

function findProgram(name: string): string | undefined {
  const folders = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/bin'];
  return folders.map((folder) => join(folder, name)).find((path) => existsSync(path));
}

function chownTree(path: string, owner: { uid: number; gid: number }): void {
  chownSync(path, owner.uid, owner.gid);
  if (!lstatSync(path).isDirectory()) return;
  for (const entry of readdirSync(path)) chownTree(join(path, entry), owner);
}

let unshareWorks: boolean | undefined;

/** Whether this process may make a mount namespace (root, and not forbidden by a container). */
function canUnshare(): boolean {
  if (unshareWorks === undefined) {
    try {
      // What launch() does, inside a throwaway namespace: a bind mount over /dev.
      execFileSync('unshare', ['--mount', '--propagation', 'private', 'mount', '--bind', '/dev', '/dev'], {
        stdio: 'ignore',
      });
      unshareWorks = true;
    } catch {
      unshareWorks = false;
    }
  }
  return unshareWorks;
}

/** dir/dev: a link to each entry of the real /dev (bound at dir/realdev in the namespace), and `log`. */
function linkDevices(dir: string, syslogSocket: string): void {
  mkdirSync(join(dir, 'realdev'));
  mkdirSync(join(dir, 'dev'));
  for (const name of readdirSync('/dev')) {
    if (name !== 'log') symlinkSync(join(dir, 'realdev', name), join(dir, 'dev', name));
  }
  symlinkSync(syslogSocket, join(dir, 'dev', 'log'));
}

/**
 * A syslog receiver on a unix stream socket: glibc's syslog() tries a datagram socket first and, on
 * EPROTOTYPE, a stream one, ending each message with a NUL.
 */
async function captureSyslog(path: string): Promise<{ text(): string; close(): Promise<void> }> {
  let text = '';
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.setEncoding('utf8');
    let pending = '';
    socket.on('data', (chunk: string) => {
      pending += chunk;
      const records = pending.split('\0');
      pending = records.pop() ?? '';
      for (const record of records) text += `${record.replace(/^<\d+>/, '').trimEnd()}\n`;
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(path);
  await once(server, 'listening');
  chmodSync(path, 0o666);
  server.unref();
  return {
    text: () => text,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Cyrus's master process (`master -D`, in the foreground) and what it printed. */
interface Master {
  pid: number;
  /** Whether it runs in a mount namespace of its own (with the syslog capture). */
  isolated: boolean;
  /** The mount namespace of the master (when isolated): once it differs from ours, the master runs in it. */
  namespace: string | undefined;
  output(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

function launch(binary: string, args: string[], dir: string, isolated: boolean): Master {
  // In its own mount namespace: /dev is replaced by dir/dev, whose links lead to the real devices
  // (bound at dir/realdev) and whose `log` is the helper's syslog socket. sh execs the master:
  // the child's pid is the master's.
  const script = 'mount --bind /dev "$0/realdev" && mount --bind "$0/dev" /dev && exec "$@"';
  // A process group of its own (detached): Cyrus's master signals its whole group when it shuts
  // down, which would otherwise be every Cyrus the test run started (seen: one instance's master
  // stopping another test file's lmtpd, "graceful shutdown initiated by unexpected process").
  const spawnOptions: SpawnOptions = { stdio: ['ignore', 'pipe', 'pipe'], detached: true };
  const child: ChildProcess = isolated
    ? spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, dir, binary, ...args], spawnOptions)
    : spawn(binary, args, spawnOptions);
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.on('error', (error) => (output += `\n${error.message}`));
  const exited = () => child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
  const exit = once(child, 'exit').catch(() => undefined);
  const master: Master = {
    pid: child.pid ?? 0,
    isolated,
    namespace: undefined,
    output: () => output,
    exited,
    async stop() {
      if (exited()) return;
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exit;
      clearTimeout(force);
    },
  };
  return master;
}

function mountNamespace(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

async function waitUntilReady(
  master: Master,
  where: { lmtpPort: number; imapPort: number; lmtpSocket: string },
): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && !master.exited()) {
    // The master listens once it runs in its namespace, which its children share: note it first.
    if (master.isolated && master.namespace === undefined) {
      const namespace = mountNamespace(master.pid);
      if (namespace !== undefined && namespace !== mountNamespace(process.pid)) master.namespace = namespace;
    } else if (
      (await greeting({ port: where.lmtpPort })).startsWith('220') &&
      (await greeting({ path: where.lmtpSocket })).startsWith('220') &&
      (await greeting({ port: where.imapPort })).startsWith('* OK')
    ) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const why = master.exited() ? 'exited' : `did not greet within ${START_TIMEOUT_MS} ms`;
  throw new Error(`cyrus master ${why} (lmtp ${where.lmtpPort}, ${where.lmtpSocket}, imap ${where.imapPort})`);
}

/** The first line a server sends, or '' when it cannot be reached. */
async function greeting(target: { port: number } | { path: string }): Promise<string> {
  return new Promise((resolve) => {
    const socket = 'port' in target ? connect({ port: target.port, host: '127.0.0.1' }) : connect(target.path);
    let data = '';
    const done = (line: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(line);
    };
    const timer = setTimeout(() => done(''), 2_000);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
      if (data.includes('\r\n')) done(data.split('\r\n')[0]!);
    });
    socket.on('error', () => done(''));
    socket.on('close', () => done(''));
  });
}

/**
 * The master stops its children before it exits; a process of this instance still there (found by
 * the config file on its command line) is given a moment, then killed.
 */
async function reapStragglers(imapdConf: string): Promise<void> {
  const ours = () => instanceProcesses(imapdConf);
  try {
    await waitFor(() => ours().length === 0, 5_000, 'cyrus processes to exit');
  } catch {
    for (const pid of ours()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // it exited meanwhile
      }
    }
  }
}

function instanceProcesses(imapdConf: string): number[] {
  if (!existsSync('/proc')) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      // By the config file on its command line only (every program in cyrus.conf gets -C): a mount
      // namespace's id is reused once it is freed, and another test's Cyrus may have this one's by now.
      const mine = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(imapdConf);
      if (mine) pids.push(Number(entry));
    } catch {
      // the process exited meanwhile
    }
  }
  return pids;
}

/** The mailbox name in a `* LIST (flags) "sep" name` line. */
function listedName(line: string): string | undefined {
  const match = /^\* LIST \([^)]*\) (?:"[^"]*"|NIL) (?:"((?:[^"\\]|\\.)*)"|(\S+))$/.exec(line);
  if (!match) return undefined;
  return match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2];
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** A minimal IMAP client for the admin's commands: one command at a time, no literals. */
class ImapConnection {
  private buffer = '';
  private closed = false;
  private wake: (() => void) | undefined;
  private tags = 0;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => undefined);
  }

  static async login(port: number, user: string, password: string): Promise<ImapConnection> {
    const socket = connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const imap = new ImapConnection(socket);
    const hello = await imap.line();
    if (!hello.startsWith('* OK')) throw new Error(`cyrus imapd greeted with: ${hello}`);
    await imap.run(`LOGIN ${user} ${quote(password)}`);
    return imap;
  }

  /** Sends one command; the untagged lines and the tagged status. NO and BAD throw unless `allowNo`. */
  async run(
    command: string,
    options: { allowNo?: boolean } = {},
  ): Promise<{ status: string; text: string; untagged: string[] }> {
    const tag = `h${++this.tags}`;
    this.socket.write(`${tag} ${command}\r\n`);
    const untagged: string[] = [];
    for (;;) {
      const line = await this.line();
      if (!line.startsWith(`${tag} `)) {
        untagged.push(line);
        continue;
      }
      const [, status = '', text = ''] = /^\S+ (\S+) ?(.*)$/.exec(line) ?? [];
      if (status !== 'OK' && !(options.allowNo && status === 'NO')) {
        throw new Error(`cyrus imapd: ${command.split(' ')[0]} answered ${status} ${text}`);
      }
      return { status, text, untagged };
    }
  }

  async logout(): Promise<void> {
    try {
      await this.run('LOGOUT');
    } catch {
      // closing anyway
    }
    this.socket.destroy();
  }

  private async line(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.buffer.indexOf('\r\n');
      if (end >= 0) {
        const line = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        return line;
      }
      if (this.closed) throw new Error('cyrus imapd closed the connection');
      if (Date.now() > deadline) throw new Error(`cyrus imapd: no answer within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

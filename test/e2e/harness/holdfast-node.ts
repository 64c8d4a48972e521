// A Holdfast node as a real child process (`node bin/holdfast.js start`): SIGKILL-able, restartable, its log kept.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { waitFor } from '../../helpers/wait.js';
import type { LogRecord } from '../../helpers/relay.js';

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

export class HoldfastNode {
  /** Every JSON log record of every run of this node, in order. */
  readonly logs: LogRecord[] = [];
  readonly configFile: string;
  readonly logFile: string;
  private child: ChildProcess | undefined;
  private exit: Promise<unknown> = Promise.resolve();
  private stderr = '';
  private partial = '';

  /**
   * `config` is the raw YAML content (durations as "4s"); `listener.port` and `admin.port` must be
   * fixed so that a restarted node listens where the first run did.
   */
  constructor(
    readonly name: string,
    directory: string,
    readonly config: Record<string, unknown>,
  ) {
    this.configFile = join(directory, `${name}.yaml`);
    this.logFile = join(directory, `${name}.log`);
    writeFileSync(this.configFile, stringify(config));
  }

  get smtpPort(): number {
    return (this.config.listener as { port: number }).port;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Records of every process of the node: the main one and its delivery processes (workers.processes). */
  events(name: string): LogRecord[] {
    return this.logs.filter((record) => record.event === name);
  }

  /** Records of the main process only (its delivery processes' records name their `process`). */
  mainEvents(name: string): LogRecord[] {
    return this.events(name).filter((record) => record.process === undefined);
  }

  /** Starts the process and waits for its `Ready` record (SMTP and admin listening, workers running). */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    const readyBefore = this.mainEvents('Ready').length;
    this.stderr = '';
    this.partial = '';
    appendFileSync(this.logFile, `--- start ${new Date().toISOString()}\n`);
    const child = spawn(process.execPath, ['bin/holdfast.js', 'start', '--config', this.configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exit = once(child, 'exit').catch(() => undefined);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => this.read(chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      appendFileSync(this.logFile, chunk);
    });
    await waitFor(
      () => this.mainEvents('Ready').length > readyBefore || !this.running,
      READY_TIMEOUT_MS,
      `${this.name} to be ready`,
    );
    if (!this.running) throw new Error(`${this.name} exited at start:\n${this.stderr}\n${this.tail()}`);
  }

  /** SIGKILL: no shutdown, no cleanup, as a crashed machine or the OOM killer. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGKILL');
    await this.exit;
  }

  /** SIGTERM (graceful), SIGKILL if it has not exited in time. Safe to call when not running. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGTERM');
    const force = setTimeout(() => this.child?.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exit;
    clearTimeout(force);
  }

  /** The last log lines, for failure messages. */
  tail(lines = 30): string {
    return this.logs
      .slice(-lines)
      .map((record) => JSON.stringify(record))
      .join('\n');
  }

  private read(chunk: string): void {
    appendFileSync(this.logFile, chunk);
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        this.logs.push(JSON.parse(line) as LogRecord);
      } catch {
        // not a log record
      }
    }
  }
}

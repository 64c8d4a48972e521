// Delivery in processes of its own: the main process keeps SMTP intake, policy and the admin API, so both use a core.
import { fork, type ChildProcess } from 'node:child_process';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { Logger } from '../observability/logger.js';
import { EVENTS } from '../observability/events.js';
import { elapsedSince, wallClock } from '../clock.js';

/** The environment variable that makes `holdfast start` a delivery process, and where its Redis is. */
export const ROLE_VARIABLE = 'HOLDFAST_PROCESS_ROLE';
export const REDIS_URL_VARIABLE = 'HOLDFAST_PROCESS_REDIS_URL';

export type MetricsJson = Array<MetricObjectWithValues<MetricValue<string>>>;

/** What the main process and a delivery process say to each other over the IPC channel. */
type Request = { type: 'metrics'; id: number };
type Reply = { type: 'metrics'; id: number; metrics: MetricsJson };

/** A child that dies is started again after this long, doubling up to the maximum while it keeps dying. */
const RESTART_DELAY_MS = 1000;
const MAX_RESTART_DELAY_MS = 30_000;
/** A child that ran this long before dying was healthy: the next restart waits the shortest delay again. */
const HEALTHY_RUN_MS = 60_000;
const METRICS_TIMEOUT_MS = 2000;

export interface DeliveryProcessesOptions {
  count: number;
  /** The script and arguments that start Holdfast (`bin/holdfast.js start -c FILE`). */
  script: string;
  args: readonly string[];
  /** The Redis the children use when the main process runs the embedded one. */
  redisUrl?: string;
  logger: Logger;
}

interface Slot {
  child?: ChildProcess;
  startedAt: number;
  delayMs: number;
  timer?: NodeJS.Timeout;
}

/** The main process's side: starts the delivery processes, starts again one that dies, stops them, and collects their metrics. */
export class DeliveryProcesses {
  private readonly slots: Slot[] = [];
  private stopping = false;
  private nextRequest = 0;
  private readonly pending = new Map<number, (metrics: MetricsJson) => void>();

  constructor(private readonly options: DeliveryProcessesOptions) {}

  start(): void {
    for (let index = 0; index < this.options.count; index++) {
      const slot: Slot = { startedAt: 0, delayMs: RESTART_DELAY_MS };
      this.slots.push(slot);
      this.spawn(slot, index + 1);
    }
  }

  /** SIGTERM to each child (it finishes its attempts within the shutdown grace), then waits; SIGKILL after `graceMs` more. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.slots.map(async (slot) => {
        clearTimeout(slot.timer);
        const child = slot.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs + 5000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  /** The counters and histograms of every running child (a child that does not answer in time is left out). */
  async childMetrics(): Promise<MetricsJson[]> {
    const children = this.slots.flatMap((slot) => (slot.child?.connected ? [slot.child] : []));
    return Promise.all(children.map((child) => this.askMetrics(child)));
  }

  private askMetrics(child: ChildProcess): Promise<MetricsJson> {
    const id = this.nextRequest++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve([]);
      }, METRICS_TIMEOUT_MS);
      this.pending.set(id, (metrics) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(metrics);
      });
      const request: Request = { type: 'metrics', id };
      child.send(request, (error) => {
        if (error) this.pending.get(id)?.([]);
      });
    });
  }

  private spawn(slot: Slot, number: number): void {
    const { logger } = this.options;
    const env: NodeJS.ProcessEnv = { ...process.env, [ROLE_VARIABLE]: `delivery-${number}` };
    if (this.options.redisUrl) env[REDIS_URL_VARIABLE] = this.options.redisUrl;
    // Its own process group: a Ctrl-C in the terminal reaches the main process only, which stops
    // the children before the embedded Redis they use.
    const child = fork(this.options.script, [...this.options.args], { env, detached: true, stdio: 'inherit' });
    slot.child = child;
    slot.startedAt = wallClock();
    logger.info({ event: EVENTS.deliveryProcessStarted, pid: child.pid, process: number }, 'delivery process started');
    child.on('message', (message: Reply) => {
      if (message?.type === 'metrics') this.pending.get(message.id)?.(message.metrics);
    });
    child.on('error', (error) => logger.error({ event: EVENTS.deliveryProcessExited, err: error }, 'delivery process'));
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      if (elapsedSince(slot.startedAt) >= HEALTHY_RUN_MS) slot.delayMs = RESTART_DELAY_MS;
      logger.error(
        {
          event: EVENTS.deliveryProcessExited,
          pid: child.pid,
          process: number,
          code,
          signal,
          restartInMs: slot.delayMs,
        },
        'delivery process exited; starting it again',
      );
      slot.timer = setTimeout(() => this.spawn(slot, number), slot.delayMs);
      slot.delayMs = Math.min(slot.delayMs * 2, MAX_RESTART_DELAY_MS);
    });
  }
}

/**
 * The child's side: answers the main process's metrics requests, and stops when the main process
 * goes away (its IPC channel closes: killed, or crashed), so that no delivery process is left behind.
 */
export function serveMainProcess(metrics: () => Promise<MetricsJson>, stop: (reason: string) => void): void {
  process.on('message', (message: Request) => {
    if (message?.type !== 'metrics') return;
    void metrics().then(
      (values) => process.send?.({ type: 'metrics', id: message.id, metrics: values } satisfies Reply),
      () => process.send?.({ type: 'metrics', id: message.id, metrics: [] } satisfies Reply),
    );
  });
  process.once('disconnect', () => stop('main process gone'));
}

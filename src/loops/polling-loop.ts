// A task run every interval on a timer that does not keep the process alive: never two runs at
// once (a run still going when the next is due is not started again), and stop() waits for a run
// under way. Every background loop of a node (policy enforcer, memory and backlog watches, the
// consumer watchdog, the overrides cache, the retention sweeper) runs on one.

export class PollingLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  /** `task` handles its own errors; one it lets through is given to `onError` (ignored by default). */
  constructor(
    private readonly task: () => Promise<void>,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** Starts the timer; with `runFirst`, runs the task once first and fails as it fails. */
  async start(options: { runFirst?: boolean } = {}): Promise<void> {
    if (options.runFirst) await this.run();
    if (this.timer) return;
    this.timer = setInterval(() => void this.run().catch(this.onError), this.intervalMs);
    this.timer.unref();
  }

  /** Runs the task now, or joins the run under way. */
  run(): Promise<void> {
    this.running ??= this.task().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}

// The slow-loris guard: a client gets limits.timeouts.transaction from connecting, or from the
// reply to its previous message, to the end of its next message. The idle timeout alone does not
// bound a client that dribbles a byte now and then (or a NOOP every few minutes): any byte resets
// it. The clock stops while Holdfast itself is deciding on a message, so a commit is never cut.

export class TransactionDeadlines {
  /** Running timers by session id; null while the clock is stopped. */
  private readonly sessions = new Map<string, NodeJS.Timeout | null>();

  constructor(
    private readonly limitMs: number,
    /** Called when a session's time is up. */
    private readonly expire: (sessionId: string) => void,
  ) {}

  /** (Re)starts the session's clock: at connection, and after each message's reply. */
  start(sessionId: string): void {
    this.clear(sessionId);
    const timer = setTimeout(() => {
      this.sessions.delete(sessionId);
      this.expire(sessionId);
    }, this.limitMs);
    timer.unref();
    this.sessions.set(sessionId, timer);
  }

  /** Starts the clock again, unless the session has ended meanwhile. */
  restart(sessionId: string): void {
    if (this.sessions.has(sessionId)) this.start(sessionId);
  }

  /** Stops the clock while Holdfast decides on a message the client has sent whole. */
  pause(sessionId: string): void {
    if (!this.sessions.has(sessionId)) return;
    this.clear(sessionId);
    this.sessions.set(sessionId, null);
  }

  /** Forgets a session that ended. */
  end(sessionId: string): void {
    this.clear(sessionId);
    this.sessions.delete(sessionId);
  }

  private clear(sessionId: string): void {
    const timer = this.sessions.get(sessionId);
    if (timer) clearTimeout(timer);
  }
}

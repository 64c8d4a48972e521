// Counts each client's attempts per minute (connections, messages or recipients), as Postfix's anvil
// does for smtpd_client_connection_rate_limit and its message and recipient siblings: a window opens
// at a client's first attempt, every attempt in it counts (refused ones too, so a client that keeps
// hammering stays refused), and it resets once the window has passed.

const WINDOW_MS = 60_000;

interface Window {
  start: number;
  attempts: number;
}

export class ClientRate {
  private readonly windows = new Map<string, Window>();
  private lastSweep: number;

  /** `limit`: attempts allowed per address per minute; 0 counts nothing and refuses nothing. */
  constructor(
    private readonly limit: number,
    private readonly now: () => number,
  ) {
    this.lastSweep = now();
  }

  /** Counts an attempt from `address`; false when it goes over the limit. */
  admit(address: string): boolean {
    if (this.limit === 0) return true;
    const now = this.now();
    this.sweep(now);
    let window = this.windows.get(address);
    if (!window || now - window.start >= WINDOW_MS) {
      window = { start: now, attempts: 0 };
      this.windows.set(address, window);
    }
    window.attempts++;
    return window.attempts <= this.limit;
  }

  /** Addresses being counted (their window has not passed yet, or was not swept yet). */
  get size(): number {
    return this.windows.size;
  }

  /** Once a window's time, forgets the addresses whose window has passed: memory follows the last minute's clients. */
  private sweep(now: number): void {
    if (now - this.lastSweep < WINDOW_MS) return;
    this.lastSweep = now;
    for (const [address, window] of this.windows) {
      if (now - window.start >= WINDOW_MS) this.windows.delete(address);
    }
  }
}

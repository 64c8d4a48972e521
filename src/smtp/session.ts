// One SMTP connection's state, from its accepted connect to its close, in one object: the client it
// counts against, its open mail transaction, and its transaction clock (the slow-loris guard).
//
// The transaction clock: a client gets limits.timeouts.transaction from connecting, or from the
// reply to its previous message, to the end of its next message. The idle timeout alone does not
// bound a client that dribbles a byte now and then (or a NOOP every few minutes): any byte resets
// it. The clock stops while Holdfast itself is deciding on a message, so a commit is never cut.

/** One mail transaction: opened at MAIL FROM, its recipients routed at RCPT. */
export interface Transaction {
  queueId: string;
  sender: string;
  recipientsByMailstore: Map<string, string[]>;
  recipientCount: number;
}

export class SmtpSession {
  /** The open mail transaction: from MAIL FROM to the reply after DATA (a new MAIL replaces it). */
  transaction: Transaction | undefined;
  /** The clock's timer; null while Holdfast decides on a message; undefined once closed. */
  private timer: NodeJS.Timeout | null | undefined = null;

  constructor(
    readonly id: string,
    /** The client key it counts against (per address, or per IPv6 prefix). */
    readonly client: string,
    private readonly limitMs: number,
    private readonly expire: (session: SmtpSession) => void,
  ) {
    this.startClock();
  }

  /** (Re)starts the transaction clock: at connection, and after each message's reply. */
  startClock(): void {
    if (this.timer === undefined) return; // closed: a reply after the close starts nothing
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.expire(this);
    }, this.limitMs);
    this.timer.unref();
  }

  /** Stops the clock while Holdfast decides on a message the client has sent whole. */
  pauseClock(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.timer !== undefined) this.timer = null;
  }

  /** The connection closed: the clock stops for good. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.transaction = undefined;
  }
}

/** The open sessions of a listener, by smtp-server's session id. */
export class SmtpSessions {
  private readonly byId = new Map<string, SmtpSession>();

  constructor(
    /** limits.timeouts.transaction */
    private readonly limitMs: number,
    /** Called when a session's transaction clock runs out. */
    private readonly expire: (session: SmtpSession) => void,
  ) {}

  /** A connection accepted (counted against `client`): its clock starts. */
  open(id: string, client: string): SmtpSession {
    const session = new SmtpSession(id, client, this.limitMs, this.expire);
    this.byId.set(id, session);
    return session;
  }

  get(id: string): SmtpSession | undefined {
    return this.byId.get(id);
  }

  /** The connection closed; returns its session, or undefined for one refused at connect. */
  close(id: string): SmtpSession | undefined {
    const session = this.byId.get(id);
    this.byId.delete(id);
    session?.close();
    return session;
  }
}

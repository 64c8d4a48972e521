// The SMTP listener: smtp-server configured for an inbound MX, with Holdfast's stage handlers.
import { readFileSync } from 'node:fs';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { setTimeout as sleep } from 'node:timers/promises';
import { onClose, onConnect } from './connect.js';
import { onData } from './data.js';
import { onMailFrom } from './mail-from.js';
import { onRcptTo } from './rcpt-to.js';
import { useOwnEnhancedCodes } from './enhanced-codes.js';
import type { SmtpContext } from './context.js';

type Callback<T = void> = (error?: Error | null, result?: T) => void;

/** What a stage answers when its handler succeeds (the 220 greeting, 250 to MAIL, RCPT and DATA). */
const SUCCESS: Record<string, number> = { connect: 220, mail: 250, rcpt: 250, data: 250 };

/**
 * Wraps a stage handler (sync or async) into smtp-server's callback style, once, here, and counts
 * the reply the stage gives (an error's responseCode; 451 for one without).
 */
function hook<A extends unknown[], T>(
  stage: string,
  handler: (...args: A) => T | Promise<T>,
  count: (stage: string, code: number) => void,
) {
  return (...args: [...A, Callback<T>]) => {
    const callback = args.pop() as Callback<T>;
    Promise.resolve()
      .then(() => handler(...(args as unknown as A)))
      .then(
        (result) => {
          count(stage, SUCCESS[stage] ?? 250);
          callback(null, result);
        },
        (error: unknown) => {
          count(stage, (error as { responseCode?: number }).responseCode ?? 451);
          callback(error as Error);
        },
      );
  };
}

export class SmtpListener {
  private readonly server: SMTPServer;

  constructor(private readonly context: SmtpContext) {
    useOwnEnhancedCodes();
    const { listener, limits } = context.config;
    const count = (stage: string, code: number) => context.countReply?.(stage, code);
    const tls = listener.tls
      ? { key: readFileSync(listener.tls.key), cert: readFileSync(listener.tls.cert), minVersion: 'TLSv1.2' as const }
      : {};
    const options: SMTPServerOptions = {
      ...tls,
      name: listener.hostname,
      banner: 'Holdfast ESMTP',
      size: limits.maxMessageSize,
      rejectOversized: true,
      hideENHANCEDSTATUSCODES: false,
      hideDSN: true,
      hideSTARTTLS: !listener.tls,
      disabledCommands: ['AUTH'],
      authOptional: true,
      socketTimeout: limits.timeouts.socket,
      // drain() waits for transactions itself; then idle sessions get 421 after this last second.
      closeTimeout: 1000,
      logger: false,
      onConnect: hook('connect', (session) => onConnect(context, session), count),
      onClose: (session) => onClose(context, session),
      onMailFrom: hook('mail', (address, session) => onMailFrom(context, address, session), count),
      onRcptTo: hook('rcpt', (address, session) => onRcptTo(context, address, session), count),
      onData: hook('data', (stream, session) => onData(context, stream, session), count),
    };
    this.server = new SMTPServer(options);
    this.server.on('error', (error) => context.logger.warn({ err: error }, 'smtp server error'));
  }

  async listen(): Promise<number> {
    const { host, port } = this.context.config.listener;
    await new Promise<void>((resolve, reject) => {
      this.server.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const address = this.server.server.address();
    return typeof address === 'object' && address ? address.port : port;
  }

  /**
   * Graceful stop: new connections and new transactions get 421 at once, while transactions
   * already open (after MAIL FROM) may finish within the grace period (their 250 is only sent
   * once committed); then idle sessions get 421 and the listener closes.
   */
  async drain(graceMs: number): Promise<void> {
    this.context.draining = true;
    const deadline = Date.now() + graceMs;
    const busy = () => this.context.inFlight > 0 || this.context.transactions.size > 0;
    while (busy() && Date.now() < deadline) await sleep(50);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

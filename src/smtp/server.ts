// The SMTP listener: smtp-server configured for an inbound MX, with Holdfast's stage handlers.
import { readFileSync } from 'node:fs';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ListenerAddress } from '../config/schema.js';
import { EVENTS } from '../observability/events.js';
import { Acceptor } from './acceptor.js';
import { onClose, onConnect } from './connect.js';
import { onData } from './data.js';
import { onMailFrom } from './mail-from.js';
import { onRcptTo } from './rcpt-to.js';
import { replyError, replyText } from './replies.js';
import { SmtpSessions, type SmtpSession } from './session.js';
import { ReverseCache } from './reverse-cache.js';
import type { SmtpContext } from './context.js';
import { Deadline } from '../clock.js';

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

/** Clients' reverse DNS names are kept 5 minutes, for up to 10,000 addresses (about 2 MB). */
const REVERSE_CACHE = { ttlMs: 5 * 60_000, maxEntries: 10_000 };

/** After the grace period, idle sessions get this last second before their 421. */
const LAST_SECOND_MS = 1000;

/** STARTTLS settings for smtp-server: the certificate, the oldest TLS version, the ciphers. */
function tlsOptions(tls: ListenerAddress['tls']): Partial<SMTPServerOptions> {
  if (!tls) return {};
  return {
    key: readFileSync(tls.key),
    cert: readFileSync(tls.cert),
    minVersion: tls.minVersion,
    ...(tls.ciphers === undefined ? {} : { ciphers: tls.ciphers }),
  };
}

export class SmtpListener {
  private readonly server: SMTPServer;
  private readonly acceptor: Acceptor;
  private readonly sessions: SmtpSessions;

  constructor(
    private readonly context: SmtpContext,
    /** The address it listens on, with its own certificate and PROXY setting (the others are node-wide). */
    private readonly address: ListenerAddress,
  ) {
    const { listener, limits } = context.config;
    const { tls } = address;
    const count = (stage: string, code: number) => context.countReply?.(stage, code);
    this.sessions = new SmtpSessions(limits.timeouts.transaction, (session) => this.cutOff(session.id));
    /** The state of a session smtp-server goes on with: one it admitted at connect. */
    const stateOf = (session: SMTPServerSession): SmtpSession => {
      const state = this.sessions.get(session.id);
      if (!state) throw replyError('localError');
      return state;
    };
    const options: SMTPServerOptions = {
      ...tlsOptions(tls),
      name: listener.hostname,
      banner: 'Holdfast ESMTP',
      size: limits.maxMessageSize,
      rejectOversized: true,
      hideENHANCEDSTATUSCODES: false,
      hideDSN: true,
      hideSTARTTLS: !tls,
      // Without a certificate of ours, smtp-server would still run STARTTLS with its built-in one,
      // whose private key is public.
      disabledCommands: tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
      authOptional: true,
      maxCommandLength: limits.commandLineLength,
      socketTimeout: limits.timeouts.socket,
      logger: false,
      resolver: new ReverseCache(REVERSE_CACHE),
      onConnect: hook(
        'connect',
        (session) => {
          this.sessions.open(session.id, onConnect(context, session));
        },
        count,
      ),
      onClose: (session) => {
        const state = this.sessions.close(session.id);
        if (state) onClose(context, state.client);
      },
      onMailFrom: hook('mail', (address, session) => onMailFrom(context, stateOf(session), address, session), count),
      onRcptTo: hook('rcpt', (address, session) => onRcptTo(context, stateOf(session), address, session), count),
      onData: hook('data', (stream, session) => this.receive(stateOf(session), stream, session), count),
    };
    this.server = new SMTPServer(options);
    this.server.on('error', (error) => context.logger.warn({ err: error }, 'smtp server error'));
    this.acceptor = new Acceptor(this.server, {
      proxyProtocol: address.proxyProtocol,
      headerTimeoutMs: limits.timeouts.socket,
      greetingPauseMs: listener.greetingPause,
      onRefused: (peer, reason) =>
        context.logger.info({ event: EVENTS.proxyRefused, peer, reason }, 'connection dropped: no valid PROXY header'),
    });
    this.acceptor.server.on('error', (error) => context.logger.warn({ err: error }, 'smtp listener error'));
  }

  /** A new key and certificate for the sessions that start TLS from now on (smtp-server's public API). */
  useCertificate(pair: { key: Buffer; cert: Buffer }): void {
    this.server.updateSecureContext({ key: pair.key, cert: pair.cert });
  }

  async listen(): Promise<number> {
    const { host, port } = this.address;
    const server = this.acceptor.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address();
    return typeof address === 'object' && address ? address.port : port;
  }

  /**
   * Graceful stop: new connections and new transactions get 421 at once, while transactions
   * already open (after MAIL FROM) may finish within the grace period (their 250 is only sent
   * once committed); then idle sessions get 421 and the listener closes.
   */
  async drain(graceMs: number): Promise<void> {
    this.context.draining = true;
    const deadline = new Deadline(graceMs);
    // A transaction is open from an accepted MAIL FROM to its reply after DATA, or an RSET: what
    // smtp-server's envelope says (a session idle after RSET does not hold the shutdown).
    const busy = () =>
      this.context.inFlight > 0 ||
      [...this.server.connections].some((connection) => connection.session.envelope.mailFrom);
    while (busy() && !deadline.passed) await sleep(50);
    const closed = this.acceptor.close();
    // smtp-server answers every later command with 421. Its own timer that closes the sessions
    // left is not used: it is cleared as soon as its (never listening) server closes.
    this.server.close();
    await Promise.race([closed, sleep(LAST_SECOND_MS)]);
    for (const connection of this.server.connections) connection.send(421, replyText('shuttingDown'));
    await closed;
  }

  /** DATA: the transaction deadline stops once the message is in whole, and starts again with its reply. */
  private async receive(state: SmtpSession, stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    stream.once('end', () => state.pauseClock());
    try {
      return await onData(this.context, state, stream, session);
    } finally {
      state.startClock();
    }
  }

  /** A session out of time: 421 4.4.2, and smtp-server closes the connection. */
  private cutOff(sessionId: string): void {
    for (const connection of this.server.connections) {
      if (connection.id !== sessionId) continue;
      this.context.logger.info(
        { event: EVENTS.rejection, stage: 'session', reason: 'transaction-timeout', client: connection.remoteAddress },
        'client cut off: too slow to send a message',
      );
      this.context.countReply?.('session', 421);
      connection.send(421, replyText('transactionTimeout'));
    }
  }
}

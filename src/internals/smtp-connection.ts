// FENCED: reaches into smtp-server's connection class. Checked by
// test/integration/internals-smtp-server.test.ts, which fails when smtp-server changes what this
// relies on.
//
// Holdfast starts each session itself (SMTPServer.connect() does it in the library) with a
// subclass of smtp-server's SMTPConnection that changes two things, for its own sessions only:
//
// - the greeting pause: smtp-server waits a fixed 100 ms before its 220 (a client that talks
//   before is refused); Holdfast waits `listener.greetingPause`, greeting at the next turn of the
//   event loop when it is 0;
// - enhanced status codes: smtp-server picks one from the numeric code alone (550 becomes 5.1.1
//   even for "relay denied", a 250 after DATA 2.6.0). A reply text that starts with its own code
//   is sent as it is; every other reply gets smtp-server's.
import type { Socket } from 'node:net';
import type { SMTPServer } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

type SessionOptions = ConstructorParameters<typeof SMTPConnection>[2];

const ENHANCED_CODE = /^[245]\.\d{1,3}\.\d{1,3} /;

export class HoldfastSmtpConnection extends SMTPConnection {
  pauseMs = 0;

  /** smtp-server's init() with this pause; its maxClients check is unused (smtp/connect.ts limits connections). */
  override init(): void {
    // _setListeners: smtp-server's private socket set-up (listeners, idle timer, parser), which its own init() runs first.
    this._setListeners(() => {
      // No pause: at the next turn of the event loop. A timer of 0 ms waits a millisecond or two
      // (Node's timers have 1 ms granularity), which was a third of a one-message session.
      if (this.pauseMs > 0) setTimeout(() => this.connectionReady(), this.pauseMs).unref();
      else setImmediate(() => this.connectionReady());
    });
  }

  /** `context` false is smtp-server's own way to send a reply without adding an enhanced code. */
  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    super.send(code, data, typeof data === 'string' && ENHANCED_CODE.test(data) ? false : context);
  }
}

/** What SMTPServer.connect() does, with Holdfast's connection class: the session starts on `socket`. */
export function startSession(server: SMTPServer, socket: Socket, options: SessionOptions, pauseMs: number): void {
  const connection = new HoldfastSmtpConnection(server, socket, options);
  connection.pauseMs = pauseMs;
  server.connections.add(connection);
  connection.on('error', (error: Error) => server._onError(error));
  connection.on('connect', (data: Parameters<SMTPServer['_onClientConnect']>[0]) => server._onClientConnect(data));
  connection.init();
}

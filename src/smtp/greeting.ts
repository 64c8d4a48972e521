// Starts an smtp-server session with Holdfast's greeting pause (`listener.greetingPause`) in place
// of smtp-server's fixed 100 ms: a client that talks before the 220 is still refused ("talk too soon").
import type { Socket } from 'node:net';
import type { SMTPServer } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

type SessionOptions = ConstructorParameters<typeof SMTPConnection>[2];

/** smtp-server's private socket set-up (listeners, idle timer, parser), which its own init() runs first. */
interface WithListeners {
  _setListeners(callback: () => void): void;
}

class PausedGreetingConnection extends SMTPConnection {
  pauseMs = 0;

  /** smtp-server's init() with this pause; its maxClients check is unused (connect.ts limits connections). */
  override init(): void {
    (this as unknown as WithListeners)._setListeners(() => {
      // No pause: at the next turn of the event loop. A timer of 0 ms waits a millisecond or two
      // (Node's timers have 1 ms granularity), which was a third of a one-message session.
      if (this.pauseMs > 0) setTimeout(() => this.connectionReady(), this.pauseMs).unref();
      else setImmediate(() => this.connectionReady());
    });
  }
}

/** What SMTPServer.connect() does, with the pause: the session starts on `socket`. */
export function startSession(server: SMTPServer, socket: Socket, options: SessionOptions, pauseMs: number): void {
  const connection = new PausedGreetingConnection(server, socket, options);
  connection.pauseMs = pauseMs;
  server.connections.add(connection);
  connection.on('error', (error: Error) => server._onError(error));
  connection.on('connect', (data: Parameters<SMTPServer['_onClientConnect']>[0]) => server._onClientConnect(data));
  connection.init();
}

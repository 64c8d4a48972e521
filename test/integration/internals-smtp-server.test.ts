// The contract of src/internals/smtp-connection.ts with smtp-server, on real sockets: if smtp-server
// renames the members Holdfast's sessions use, or changes how a reply's enhanced code is chosen,
// this fails.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { HoldfastSmtpConnection, startSession } from '../../src/internals/smtp-connection.js';
import { converse } from '../helpers/smtp-client.js';

/** Refuses every recipient: with its own enhanced code for relay@, without one for the others. */
function refusingServer(): SMTPServer {
  return new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    hideENHANCEDSTATUSCODES: false, // as Holdfast's listener: smtp-server adds enhanced codes
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      const own = address.address.startsWith('relay@');
      const error = Object.assign(new Error(own ? '5.7.1 Relaying denied' : 'No such user here'), {
        responseCode: 550,
      });
      callback(error);
    },
  });
}

describe("Holdfast's sessions on smtp-server", () => {
  const closers: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  /** A TCP listener whose connections start Holdfast's sessions on `smtp`; its port. */
  const listen = async (smtp: SMTPServer, pauseMs: number): Promise<number> => {
    const sockets = new Set<Socket>();
    const server: Server = createServer((socket) => {
      sockets.add(socket);
      startSession(smtp, socket, {}, pauseMs);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return (server.address() as { port: number }).port;
  };

  /** The first reply line a client gets when it sends `early` at once (or nothing). */
  const firstLine = async (port: number, early?: string): Promise<string> => {
    const socket = connect(port, '127.0.0.1');
    closers.push(() => void socket.destroy());
    await once(socket, 'connect');
    if (early) socket.write(early);
    socket.setEncoding('latin1');
    let text = '';
    while (!text.includes('\r\n')) text += String((await once(socket, 'data'))[0]);
    return text.split('\r\n')[0]!;
  };

  it('finds in smtp-server the members a session is started and greeted with', () => {
    const prototype = SMTPConnection.prototype as unknown as Record<string, unknown>;
    for (const member of [
      'init',
      '_setListeners',
      'connectionReady',
      'send',
      '_onCommand',
      '_parseAddressCommand',
      '_whenWritable',
    ]) {
      expect(typeof prototype[member], member).toBe('function');
    }
    const server = new SMTPServer({});
    expect(server.connections).toBeInstanceOf(Set);
    expect(typeof server._onError).toBe('function');
    expect(typeof server._onClientConnect).toBe('function');
    expect(
      new HoldfastSmtpConnection(
        server,
        connect({ port: 9, host: '127.0.0.1' }).on('error', () => undefined),
        {},
      ),
    ).toBeInstanceOf(SMTPConnection);
  });

  it('greets at once without a pause, and refuses a client that talks before the greeting of a paused one', async () => {
    const smtp = refusingServer();
    expect(await firstLine(await listen(smtp, 0))).toMatch(/^220 /);
    expect(await firstLine(await listen(smtp, 500), 'EHLO early.test\r\n')).toMatch(/^421 /);
  });

  it("sends a reply that starts with its own enhanced code as it is, and others with smtp-server's", async () => {
    const port = await listen(refusingServer(), 0);
    const replies = await converse(port, ['MAIL FROM:<a@b.test>', 'RCPT TO:<relay@x.test>', 'RCPT TO:<user@x.test>']);
    expect(replies[1]).toBe('550 5.7.1 Relaying denied');
    expect(replies[2]).toBe('550 5.1.1 No such user here');
  });

  it("changes only Holdfast's sessions: a plain smtp-server in the same process still adds its own code", async () => {
    const plain = refusingServer();
    plain.listen(0, '127.0.0.1');
    await once(plain.server, 'listening');
    closers.push(() => new Promise<void>((resolve) => plain.close(() => resolve())));
    const port = (plain.server.address() as { port: number }).port;
    const replies = await converse(port, ['MAIL FROM:<a@b.test>', 'RCPT TO:<relay@x.test>']);
    expect(replies[1]).toBe('550 5.1.1 5.7.1 Relaying denied');
  });

  /** A plain smtp-server (no Holdfast session) that accepts every recipient; its port. */
  const plainAccepting = async (): Promise<number> => {
    const plain = new SMTPServer({ authOptional: true, disabledCommands: ['AUTH', 'STARTTLS'] });
    plain.listen(0, '127.0.0.1');
    await once(plain.server, 'listening');
    closers.push(() => new Promise<void>((resolve) => plain.close(() => resolve())));
    return (plain.server.address() as { port: number }).port;
  };

  it('still needs its command reading fenced: smtp-server alone takes a Unicode-folded verb and refuses a quoted local part', async () => {
    const port = await plainAccepting();
    const replies = await converse(port, ['MA\u0131L FROM:<a@b.test>', 'RCPT TO:<"john smith"@x.test>']);
    expect(replies[0]).toMatch(/^250 /); // MAıL taken as MAIL: if this fails, smtp-server reads verbs as ASCII now
    expect(replies[1]).toMatch(/^501 /); // if this fails, smtp-server parses quoted local parts now
  });

  it("refuses a verb that is not ASCII, and parses a quoted local part, in Holdfast's sessions", async () => {
    const accepting = new SMTPServer({
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      onRcptTo: (_address, _session, callback) => callback(),
    });
    const port = await listen(accepting, 0);
    const replies = await converse(port, [
      'MA\u0131L FROM:<a@b.test>',
      'MAIL FROM:<a@b.test>',
      'RCPT TO:<"john smith"@x.test>',
      'RCPT TO:<"jane"@x.test>',
    ]);
    expect(replies[0]).toMatch(/^500 5\.5\.2 /);
    expect(replies[1]).toMatch(/^250 /);
    expect(replies[2]).toMatch(/^250 /);
    expect(replies[3]).toMatch(/^250 /);
  });
});

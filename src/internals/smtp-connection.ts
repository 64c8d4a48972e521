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
// - commands read as bytes first (smtp-server decodes a line as UTF-8 and upper-cases its verb, so
//   `MA\u0131L` became MAIL and invalid UTF-8 became U+FFFD): a verb that is not ASCII is refused
//   (500 5.5.2); MAIL and RCPT with invalid UTF-8 get 501 5.5.4, and a non-ASCII address without
//   SMTPUTF8 on its MAIL FROM 553 5.6.7 (RFC 6531 section 3.5);
// - a quoted local part (`"john smith"@example.com`, RFC 5321 section 4.1.2), which smtp-server
//   refuses (it splits the command at spaces), is parsed; the address keeps its quotes only where
//   its local part needs them (`"john"@example.com` is `john@example.com`).
import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import type { SMTPServer } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { REPLIES, replyText, type ReplyName } from '../smtp/replies.js';

type SessionOptions = ConstructorParameters<typeof SMTPConnection>[2];

const ENHANCED_CODE = /^[245]\.\d{1,3}\.\d{1,3} /;

/**
 * The path of a MAIL FROM or RCPT TO with a quoted local part, right after the colon: the verb and
 * colon, an optional source route, the quoted string, the domain. The quoted string holds RFC
 * 5321's qtextSMTP and quoted pairs, and UTF-8 beyond U+009F but for the invisible characters
 * smtp-server refuses (so a quoted string cannot carry what a bare local part may not).
 */
const QUOTED_LOCAL_PART =
  // eslint-disable-next-line no-control-regex -- \x00-\x9f is excluded from the UTF-8 range, not matched
  /^([A-Za-z]+\s+[A-Za-z]+\s*:\s*)<((?:@[^\s:<>]+:)?)"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e]|[^\x00-\x9f"\\\u200b\u2060\ufeff])*)"@([^\s<>]+)>/;

/** RFC 5321's longest path (256 octets with < and >): a rebuilt address longer than this is refused. */
const MAX_ADDRESS = 253;

/** Characters smtp-server refuses in an address (its ADDRESS_UNSAFE_CHARS). */
// eslint-disable-next-line no-control-regex -- these are the characters it names
const REFUSED_BY_SMTP_SERVER = /[\x00-\x1F\x7F-\x9F\u200B\u2060\uFEFF]/;

/** A local part that needs no quotes (RFC 5321's Dot-string). */
const DOT_STRING = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

/** What smtp-server parses in place of a quoted local part: a Dot-string no address has. */
const STAND_IN = 'holdfast-quoted-local-part';

type ParsedAddress = Exclude<ReturnType<SMTPConnection['_parseAddressCommand']>, false>;

/** The local part as RFC 5321 writes it: bare when it is a Dot-string, else quoted with `"` and `\` escaped. */
export function canonicalLocalPart(unquoted: string): string {
  return DOT_STRING.test(unquoted) ? unquoted : `"${unquoted.replace(/["\\]/g, '\\$&')}"`;
}

/** The verb of a command line, as its bytes. */
function verbOf(command: Buffer): Buffer {
  const space = command.indexOf(0x20);
  return command.subarray(0, space === -1 ? command.length : space);
}

/** Whether a MAIL FROM line asks for SMTPUTF8 (RFC 6531). */
function asksSmtpUtf8(command: Buffer): boolean {
  return /\sSMTPUTF8(?:\s|$)/i.test(command.toString('utf8'));
}

/**
 * Why a command is refused before smtp-server reads it, or undefined. `smtpUtf8` says whether the
 * last MAIL FROM of the session that got this far asked for SMTPUTF8 (for RCPT).
 */
function refusalOf(command: Buffer, smtpUtf8: boolean): ReplyName | undefined {
  const verb = verbOf(command);
  if (verb.some((byte) => byte >= 0x80)) return 'commandNotAscii';
  const name = verb.toString('latin1').toUpperCase();
  if (name !== 'MAIL' && name !== 'RCPT') return undefined;
  if (!isUtf8(command)) return 'addressNotUtf8';
  if (!command.some((byte) => byte >= 0x80)) return undefined;
  // Invisible and control characters in the address: smtp-server refuses those itself (501 5.1.7).
  const path = /<([^<>]*)>/.exec(command.toString('utf8'))?.[1] ?? '';
  if (REFUSED_BY_SMTP_SERVER.test(path)) return undefined;
  return (name === 'MAIL' ? asksSmtpUtf8(command) : smtpUtf8) ? undefined : 'addressNeedsSmtputf8';
}

export class HoldfastSmtpConnection extends SMTPConnection {
  pauseMs = 0;
  /** Whether the session's last MAIL FROM that passed the checks here asked for SMTPUTF8. */
  private smtpUtf8 = false;

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

  /** Refuses what smtp-server would misread (see the top of this file), then hands the line to it. */
  override _onCommand(command: Buffer, callback?: () => void): void {
    // Only a command smtp-server would act on: not one during a TLS handshake (it drops those
    // unanswered), before the greeting or while closing (it answers 421), nor a continuation line.
    const acts = this._ready && !this._upgrading && !this._server._closeTimeout && !this._nextHandler;
    const refusal = acts && Buffer.isBuffer(command) ? refusalOf(command, this.smtpUtf8) : undefined;
    if (!refusal) {
      // A MAIL FROM that smtp-server will take (not a nested one, which it refuses) sets the flag.
      const mail = acts && Buffer.isBuffer(command) && verbOf(command).toString('latin1').toUpperCase() === 'MAIL';
      if (mail && !this.session.envelope.mailFrom) {
        this.smtpUtf8 = asksSmtpUtf8(command);
      }
      return super._onCommand(command, callback);
    }
    if (refusal === 'commandNotAscii') {
      // Counted as smtp-server counts the commands it does not know: ten end the session.
      this._unrecognizedCommands++;
      if (this._unrecognizedCommands >= 10) return this.send(421, 'Error: too many unrecognized commands');
    }
    this.send(REPLIES[refusal].code, replyText(refusal));
    this._whenWritable(callback ?? (() => false));
  }

  /** smtp-server's parse, with a quoted local part put back where it parsed a stand-in. */
  override _parseAddressCommand(rawName: string, rawCommand: Buffer | string): ParsedAddress | false {
    const command = rawCommand.toString();
    const quoted = QUOTED_LOCAL_PART.exec(command);
    if (!quoted) return super._parseAddressCommand(rawName, rawCommand);
    const [whole, verb, route, content, domain] = quoted as unknown as [string, string, string, string, string];
    const standIn = `${verb}<${route}${STAND_IN}@${domain}>${command.slice(whole.length)}`;
    const parsed = super._parseAddressCommand(rawName, standIn);
    if (!parsed || !parsed.address.startsWith(`${STAND_IN}@`)) return parsed;
    const address = canonicalLocalPart(content.replace(/\\(.)/g, '$1')) + parsed.address.slice(STAND_IN.length);
    if (Buffer.byteLength(address) > MAX_ADDRESS) return false;
    parsed.address = address;
    return parsed;
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

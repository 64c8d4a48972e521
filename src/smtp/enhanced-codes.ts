// Lets Holdfast's own replies carry their exact enhanced status code (RFC 3463) through smtp-server.
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

const ENHANCED_CODE = /^[245]\.\d{1,3}\.\d{1,3} /;
const PATCHED = Symbol.for('holdfast.enhancedCodes');

interface Sendable {
  send: (this: Sendable, code: number, data: unknown, context?: unknown) => void;
  [PATCHED]?: boolean;
}

/**
 * smtp-server picks an enhanced code from the numeric code alone (550 becomes 5.1.1 even for
 * "relay denied", a 250 after DATA becomes 2.6.0). Our replies already start with the right one:
 * when a reply text begins with an enhanced code, tell smtp-server not to add its own
 * (context false is its documented way to skip the code). Every other reply is unchanged.
 */
export function useOwnEnhancedCodes(): void {
  const prototype = SMTPConnection.prototype as unknown as Sendable;
  if (prototype[PATCHED]) return;
  const send = prototype.send;
  prototype.send = function (this: Sendable, code, data, context) {
    const skip = typeof data === 'string' && ENHANCED_CODE.test(data);
    send.call(this, code, data, skip ? false : context);
  };
  prototype[PATCHED] = true;
}

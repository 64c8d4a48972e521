// Finds the Message-ID in a message's header block, cheaply: it serves the trace, never a delivery decision.
import { normalizeMessageId } from '../repositories/trace.js';

/** Headers past this many bytes are not looked at: a Message-ID that far down is not worth the scan. */
const SCAN_LIMIT = 64 * 1024;

/** The header Message-ID without its angle brackets, or undefined when there is none. */
export function headerMessageId(message: Buffer): string | undefined {
  const head = message.subarray(0, SCAN_LIMIT).toString('utf8');
  const blankLine = /^\r?\n|\r?\n\r?\n/.exec(head);
  const headers = blankLine ? head.slice(0, blankLine.index) : head;
  // The field and its folded continuation lines.
  const field = /^message-id[ \t]*:([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)/im.exec(headers);
  return field ? normalizeMessageId(field[1]!.replace(/\r?\n/g, '')) : undefined;
}

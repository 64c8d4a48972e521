// Bare CR and bare LF inside DATA: normalised to CRLF, or counted to refuse the message
// (listener.bareLineEndings), chunk by chunk as the message streams in.
//
// smtp-server ends DATA only at CRLF.CRLF, so "\n.\n" and its kin are message content here, never
// the end of a message (SMTP smuggling). What is left to decide is what such content becomes: a
// stored message with only CRLF line endings, as RFC 5322 requires and as the mailstore will get it
// anyway (nodemailer turns every bare CR and LF into CRLF on the way out), or a refusal.
import type { SMTPServerSession } from 'smtp-server';
import { EVENTS } from '../observability/events.js';
import { replyError, type SmtpReplyError } from './replies.js';
import type { SmtpContext } from './context.js';

const CR = 0x0d;
const LF = 0x0a;
const CR_ALONE = Buffer.from('\r');
const CRLF = Buffer.from('\r\n');

/** Calls `found` with the position of every CR or LF that is not half of a CRLF, in order. */
function forEachBareLineEnding(message: Buffer, found: (position: number) => void): void {
  let nextCr = message.indexOf(CR);
  let nextLf = message.indexOf(LF);
  while (nextCr !== -1 || nextLf !== -1) {
    if (nextCr !== -1 && (nextLf === -1 || nextCr < nextLf)) {
      if (nextLf === nextCr + 1)
        nextLf = message.indexOf(LF, nextLf + 1); // a CRLF
      else found(nextCr);
      nextCr = message.indexOf(CR, nextCr + 1);
    } else {
      found(nextLf);
      nextLf = message.indexOf(LF, nextLf + 1);
    }
  }
}

/** How many line endings of the message are a CR or an LF alone. */
export function countBareLineEndings(message: Buffer): number {
  let count = 0;
  forEachBareLineEnding(message, () => count++);
  return count;
}

/** The message with every bare CR and bare LF replaced by CRLF; the same buffer when there is none. */
export function normalizeLineEndings(message: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  forEachBareLineEnding(message, (position) => {
    parts.push(message.subarray(start, position), CRLF);
    start = position + 1;
  });
  if (parts.length === 0) return message;
  parts.push(message.subarray(start));
  return Buffer.concat(parts);
}

/**
 * Applies `listener.bareLineEndings` to a message chunk by chunk. A CR that ends a chunk is held
 * back until the next one tells whether an LF follows it.
 */
export class LineEndings {
  /** Bare CRs and LFs seen so far. */
  bare = 0;
  private heldCr = false;

  constructor(private readonly policy: 'normalize' | 'reject') {}

  /** The chunk as it is to be stored (normalised, or as it came when the policy is reject). */
  push(chunk: Buffer): Buffer {
    let data = this.heldCr ? Buffer.concat([CR_ALONE, chunk]) : chunk;
    this.heldCr = data.at(-1) === CR;
    if (this.heldCr) data = data.subarray(0, -1);
    return this.apply(data);
  }

  /** What is left at the end of the message: a CR held back, now known to be bare. */
  end(): Buffer {
    if (!this.heldCr) return Buffer.alloc(0);
    this.heldCr = false;
    return this.apply(CR_ALONE);
  }

  /**
   * The most a message of `size` bytes as sent can take once stored: twice that when normalising
   * (were every byte a bare LF), so that normalisation never pushes an accepted message past the
   * collector's limit, where it would be cut.
   */
  storedSize(size: number): number {
    return this.policy === 'normalize' ? 2 * size : size;
  }

  /** True when the message must be refused: the policy is reject and a bare CR or LF came. */
  get refused(): boolean {
    return this.policy === 'reject' && this.bare > 0;
  }

  private apply(data: Buffer): Buffer {
    if (this.policy === 'reject') {
      this.bare += countBareLineEndings(data);
      return data;
    }
    const normalized = normalizeLineEndings(data);
    this.bare += normalized.length - data.length; // each bare ending gained one byte
    return normalized;
  }
}

/** Logs the refusal of a message with bare line endings; returns its 550 5.5.2 to throw. */
export function bareLineEndingRefusal(context: SmtpContext, session: SMTPServerSession, bare: number): SmtpReplyError {
  context.logger.info(
    { event: EVENTS.rejection, stage: 'data', reason: 'bare-line-ending', client: session.remoteAddress, count: bare },
    'message refused: bare CR or LF',
  );
  return replyError('bareLineEnding');
}

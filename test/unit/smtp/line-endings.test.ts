// Unit tests for bare CR / bare LF handling in DATA: what counts as bare, the CRLF the message becomes, chunk by chunk.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineEndings, countBareLineEndings, normalizeLineEndings } from '../../../src/smtp/line-endings.js';

const normalized = (text: string) => normalizeLineEndings(Buffer.from(text, 'latin1')).toString('latin1');
const count = (text: string) => countBareLineEndings(Buffer.from(text, 'latin1'));

describe('countBareLineEndings', () => {
  it('finds none in a message whose every line ends in CRLF', () => {
    expect(count('Subject: a\r\n\r\nbody\r\n.. stuffed\r\n')).toBe(0);
  });

  it('counts each LF without a CR before it and each CR without an LF after it', () => {
    expect(count('a\nb\rc\r\n\n\r\r\n')).toBe(4);
  });

  it.each([
    ['\n.\n', 2],
    ['\r\n.\n', 1],
    ['\n.\r\n', 1],
    ['\r.\r', 2],
    ['\r\n.\r', 1],
    ['\r.\r\n', 1],
  ])('counts the bare endings of the smuggling sequence %j', (sequence, bare) => {
    expect(count(`text${sequence}more`)).toBe(bare);
  });

  it('counts a CR at the very end as bare', () => {
    expect(count('text\r')).toBe(1);
  });
});

describe('normalizeLineEndings', () => {
  it('returns the very same buffer when there is nothing to change', () => {
    const message = Buffer.from('Subject: a\r\n\r\nbody\r\n');
    expect(normalizeLineEndings(message)).toBe(message);
  });

  it('turns bare LF and bare CR into CRLF and leaves CRLF alone', () => {
    expect(normalized('a\nb\rc\r\nd')).toBe('a\r\nb\r\nc\r\nd');
  });

  it('turns "\\n.\\n" into a line holding a single dot, which the delivery will dot-stuff', () => {
    expect(normalized('x\n.\nMAIL FROM:<a@b>\n')).toBe('x\r\n.\r\nMAIL FROM:<a@b>\r\n');
  });

  it('treats a CR before CRLF as bare, as the delivery side does', () => {
    expect(normalized('a\r\r\nb')).toBe('a\r\n\r\nb');
  });

  it('leaves no bare line ending in any input and changes nothing but line endings', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', '.', '\r', '\n', '\r\n', ' ')), (pieces) => {
        const input = Buffer.from(pieces.join(''), 'latin1');
        const output = normalizeLineEndings(input);
        expect(countBareLineEndings(output)).toBe(0);
        const strip = (buffer: Buffer) => buffer.toString('latin1').replace(/[\r\n]/g, '');
        expect(strip(output)).toBe(strip(input));
      }),
    );
  });
});

/** Runs `text` through a LineEndings in the given chunk sizes; returns what it kept and the filter. */
function stream(text: string, policy: 'normalize' | 'reject', sizes: number[]) {
  const input = Buffer.from(text, 'latin1');
  const filter = new LineEndings(policy);
  const output: Buffer[] = [];
  let offset = 0;
  for (const size of [...sizes, input.length]) {
    if (offset >= input.length) break;
    output.push(filter.push(input.subarray(offset, offset + size)));
    offset += size;
  }
  output.push(filter.end());
  return { kept: Buffer.concat(output).toString('latin1'), filter };
}

describe('LineEndings', () => {
  const text = fc
    .array(fc.constantFrom('a', '.', '\r', '\n', '\r\n', ' '), { maxLength: 40 })
    .map((pieces) => pieces.join(''));
  const sizes = fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 20 });

  it('normalises a message cut into any chunks exactly as it would the whole, and counts its bare endings', () => {
    fc.assert(
      fc.property(text, sizes, (message, cuts) => {
        const { kept, filter } = stream(message, 'normalize', cuts);
        expect(kept).toBe(normalized(message));
        expect(filter.bare).toBe(count(message));
        expect(filter.refused).toBe(false);
      }),
    );
  });

  it('keeps a CRLF cut between its CR and its LF as a CRLF', () => {
    expect(stream('a\r\nb', 'normalize', [2]).kept).toBe('a\r\nb');
    expect(stream('a\r\nb', 'reject', [2]).filter.bare).toBe(0);
  });

  it('passes the message through unchanged when refusing, and refuses once a bare ending came', () => {
    fc.assert(
      fc.property(text, sizes, (message, cuts) => {
        const { kept, filter } = stream(message, 'reject', cuts);
        expect(kept).toBe(message);
        expect(filter.refused).toBe(count(message) > 0);
      }),
    );
  });

  it('allows a normalised message twice its size, so that normalising never pushes it past a limit', () => {
    expect(new LineEndings('normalize').storedSize(1000)).toBe(2000);
    expect(new LineEndings('reject').storedSize(1000)).toBe(1000);
    expect(normalized('\n'.repeat(1000))).toHaveLength(2000);
  });
});

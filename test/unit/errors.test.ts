// The one error catalogue: every code documented in docs/api.md and every documented code real, each
// answered by the admin API with its status and by the SMTP edge with its reply.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { errorAnswer } from '../../src/admin/http/errors.js';
import { ERRORS, HoldfastError, failure, refused, type ErrorCode } from '../../src/errors.js';
import { notCommitted } from '../../src/smtp/data.js';

/** The rows of docs/api.md's error table: code, status, SMTP reply (or ''). */
function documentedErrors(): Array<[string, number, string]> {
  const text = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
  const section = text.slice(text.indexOf('## Errors'), text.indexOf('## Endpoints'));
  return [...section.matchAll(/^\| `([A-Z_]+)` +\| (\d{3}) +\| (\d{3})? *\|/gm)].map((row) => [
    row[1]!,
    Number(row[2]),
    row[3] ?? '',
  ]);
}

const codes = Object.keys(ERRORS) as ErrorCode[];
const entryOf = (code: ErrorCode): { http: number; smtp?: number; message: string } => ERRORS[code];

describe('the error catalogue', () => {
  it('documents every code in docs/api.md with its status and SMTP reply', () => {
    const documented = new Map(documentedErrors().map(([code, status, smtp]) => [code, { status, smtp }]));
    const wrong = codes.filter((code) => {
      const row = documented.get(code);
      const entry = entryOf(code);
      return !row || row.status !== entry.http || row.smtp !== String(entry.smtp ?? '');
    });
    expect(wrong).toEqual([]);
  });

  it('documents no code that does not exist', () => {
    expect(
      documentedErrors()
        .map(([code]) => code)
        .filter((code) => !Object.hasOwn(ERRORS, code)),
    ).toEqual([]);
  });

  it('answers each code on the admin API with its own status, the message as given', () => {
    for (const code of codes) {
      expect(errorAnswer(failure(code, 'why'), true)).toEqual({
        status: ERRORS[code].http,
        body: { code, message: 'why' },
      });
    }
    expect(errorAnswer(refused('not held'), true)).toEqual({
      status: 409,
      body: { code: 'REFUSED', message: 'not held' },
    });
  });

  it('turns bad input into 400, an error while Redis is away into 503, and the rest into 500', () => {
    const invalid = z.strictObject({ reason: z.string() }).safeParse({});
    expect(errorAnswer(invalid.error, true)).toMatchObject({ status: 400, body: { code: 'INVALID_REQUEST' } });
    expect(errorAnswer(new Error('Connection is closed.'), false).body.code).toBe('REDIS_UNAVAILABLE');
    expect(errorAnswer(new Error('a bug'), true)).toEqual({
      status: 500,
      body: { code: 'INTERNAL', message: 'internal error (see the server log)' },
    });
  });

  it('stops a message at intake with the SMTP reply its code names, and with 452 when Redis is out of memory', () => {
    for (const code of codes.filter((each) => entryOf(each).smtp !== undefined)) {
      expect(notCommitted(new HoldfastError(code, 'detail')).responseCode, code).toBe(entryOf(code).smtp);
    }
    const oom = new Error("OOM command not allowed when used memory > 'maxmemory'.");
    expect(notCommitted(oom).responseCode).toBe(452);
    expect(notCommitted(Object.assign(new Error('EXECABORT'), { previousErrors: [oom] })).responseCode).toBe(452);
  });
});

// Every admin API error code is documented, and what the services throw becomes the right answer.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { API_ERRORS } from '../../../src/admin/api.js';
import { ApiError, errorAnswer } from '../../../src/admin/http/errors.js';
import { MailstoreAdminError } from '../../../src/admin/mailstores.js';
import { HoldfastError } from '../../../src/errors.js';

describe('the admin API errors', () => {
  it('are all documented in docs/api.md with their status', () => {
    const documented = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8');
    const missing = Object.entries(API_ERRORS).filter(
      ([code, status]) => !new RegExp(`\\| \`${code}\` +\\| ${status} `).test(documented),
    );
    expect(missing).toEqual([]);
  });

  it('turn bad input into 400, refusals into 409, Redis trouble into 503 and the rest into 500', () => {
    const invalid = z.strictObject({ reason: z.string() }).safeParse({});
    expect(errorAnswer(invalid.error, true)).toMatchObject({ status: 400, body: { code: 'INVALID_REQUEST' } });
    expect(errorAnswer(new MailstoreAdminError('not held'), true)).toEqual({
      status: 409,
      body: { code: 'REFUSED', message: 'not held' },
    });
    expect(errorAnswer(new ApiError('NOT_FOUND', 'unknown'), true).status).toBe(404);
    expect(errorAnswer(new HoldfastError('TIMEOUT', 'reading'), true).body.code).toBe('REDIS_UNAVAILABLE');
    expect(errorAnswer(new Error('Connection is closed.'), false).body.code).toBe('REDIS_UNAVAILABLE');
    expect(errorAnswer(new Error('a bug'), true)).toEqual({
      status: 500,
      body: { code: 'INTERNAL', message: 'internal error (see the server log)' },
    });
  });
});

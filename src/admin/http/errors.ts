// Turns what the admin services throw into the API's error answers: {code, message} with the
// code's HTTP status from the one catalogue (src/errors.ts).
import { ZodError } from 'zod';
import { ERRORS, HoldfastError, type ErrorCode } from '../../errors.js';
import type { ApiErrorBody } from '../api.js';

/** `redisConnected`: whether the admin's Redis connection is up; an unexpected error while it is not is Redis's. */
export function errorAnswer(error: unknown, redisConnected: boolean): { status: number; body: ApiErrorBody } {
  const answer = (code: ErrorCode, message: string) => ({ status: ERRORS[code].http, body: { code, message } });
  if (error instanceof HoldfastError) return answer(error.code, error.message);
  if (error instanceof ZodError) {
    const problems = error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`);
    return answer('INVALID_REQUEST', problems.join('; '));
  }
  if (!redisConnected) return answer('REDIS_UNAVAILABLE', `Redis is not connected: ${(error as Error).message}`);
  const fastify = error as { statusCode?: number; message?: string };
  if (typeof fastify.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) {
    return answer(fastify.statusCode === 404 ? 'NOT_FOUND' : 'INVALID_REQUEST', fastify.message ?? 'bad request');
  }
  return answer('INTERNAL', ERRORS.INTERNAL.message);
}

// Turns what the admin services throw into the API's error answers: {code, message} with an HTTP status.
import { ZodError } from 'zod';
import { HoldfastError } from '../../errors.js';
import { API_ERRORS, type ApiErrorBody, type ApiErrorCode } from '../api.js';
import { MailstoreAdminError } from '../mailstores.js';
import { MessageAdminError } from '../messages.js';
import { RouteAdminError } from '../routes.js';
import { StoreAdminError } from '../stores.js';
import { ReplayAdminError } from '../replay.js';
import { TraceAdminError } from '../trace.js';

/** An error the HTTP layer raises itself (unknown store, bad token, a time it cannot read). */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** `redisConnected`: whether the admin's Redis connection is up; an unexpected error while it is not is Redis's. */
export function errorAnswer(error: unknown, redisConnected: boolean): { status: number; body: ApiErrorBody } {
  const answer = (code: ApiErrorCode, message: string) => ({ status: API_ERRORS[code], body: { code, message } });
  if (error instanceof ApiError) return answer(error.code, error.message);
  if (error instanceof ZodError) {
    const problems = error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`);
    return answer('INVALID_REQUEST', problems.join('; '));
  }
  // The services refuse what the state or the rules do not allow: a conflict with the current state.
  if (
    error instanceof MailstoreAdminError ||
    error instanceof MessageAdminError ||
    error instanceof StoreAdminError ||
    error instanceof RouteAdminError ||
    error instanceof ReplayAdminError ||
    error instanceof TraceAdminError
  ) {
    return answer('REFUSED', error.message);
  }
  if (error instanceof HoldfastError && (error.code === 'TIMEOUT' || error.code === 'REDIS_UNAVAILABLE')) {
    return answer('REDIS_UNAVAILABLE', error.message);
  }
  if (!redisConnected) return answer('REDIS_UNAVAILABLE', `Redis is not connected: ${(error as Error).message}`);
  const fastify = error as { statusCode?: number; message?: string };
  if (typeof fastify.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) {
    return answer(fastify.statusCode === 404 ? 'NOT_FOUND' : 'INVALID_REQUEST', fastify.message ?? 'bad request');
  }
  return answer('INTERNAL', 'internal error (see the server log)');
}

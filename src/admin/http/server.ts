// The admin HTTP listener: versioned JSON API under /api/v1, bearer-token auth, one error shape.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from '../../config/schema.js';
import { EVENTS } from '../../observability/events.js';
import type { Logger } from '../../observability/logger.js';
import { API_PREFIX } from '../api.js';
import { FailedAuthLimiter, bearerToken, tokenMatches } from './auth.js';
import { ApiError, errorAnswer } from './errors.js';
import { registerStoreRoutes, type StoreRouteDeps } from './stores.js';
import { registerMessageRoutes, type MessageRouteDeps } from './messages.js';
import { registerRoutingRoutes, type RoutingRouteDeps } from './routing.js';
import { registerHealthRoutes, type HealthRouteDeps } from './health.js';

export interface AdminServerDeps extends StoreRouteDeps, MessageRouteDeps, RoutingRouteDeps, HealthRouteDeps {
  config: Config;
  logger: Logger;
  /** Whether the admin's Redis connection is up (to tell Redis trouble from bugs). */
  redisConnected: () => boolean;
  /** Further routes on the same listener (metrics, the status page). */
  extra?: (server: FastifyInstance) => void;
}

/** Paths anyone on the listener may read: liveness and readiness, and the status page (it holds no data). */
const OPEN_PATHS = [`${API_PREFIX}/health/`];
const OPEN_EXACT = ['/'];

export function createAdminServer(deps: AdminServerDeps): FastifyInstance {
  const { config, logger } = deps;
  const server = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
  const token = config.admin.token;
  const limiter = new FailedAuthLimiter();
  server.addContentTypeParser(['text/csv', 'text/plain'], { parseAs: 'string' }, (_request, body, done) =>
    done(null, body),
  );
  server.addHook('onRequest', (request, _reply, done) => {
    if (
      token === undefined ||
      OPEN_EXACT.includes(request.url) ||
      OPEN_PATHS.some((path) => request.url.startsWith(path))
    ) {
      return done();
    }
    if (limiter.blocked(request.ip)) {
      return done(new ApiError('TOO_MANY_ATTEMPTS', 'too many failed attempts; wait a minute'));
    }
    if (!tokenMatches(bearerToken(request.headers.authorization), token)) {
      limiter.record(request.ip);
      // The token presented is never logged.
      logger.warn({ event: EVENTS.adminAuthFailed, client: request.ip, path: request.url }, 'admin API: bad token');
      return done(new ApiError('UNAUTHORIZED', 'missing or wrong bearer token'));
    }
    done();
  });
  server.setErrorHandler((error, request, reply) => {
    const { status, body } = errorAnswer(error, deps.redisConnected());
    if (status >= 500) {
      logger.error({ event: EVENTS.adminError, err: error, path: request.url }, 'admin API request failed');
    }
    void reply.status(status).send(body);
  });
  server.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ code: 'NOT_FOUND', message: `no such endpoint: ${request.method} ${request.url}` });
  });
  registerHealthRoutes(server, deps);
  registerStoreRoutes(server, deps);
  registerMessageRoutes(server, deps);
  registerRoutingRoutes(server, deps);
  deps.extra?.(server);
  return server;
}

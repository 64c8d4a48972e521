// The admin HTTP listener: versioned JSON API under /api/v1, bearer-token auth, one error shape, metrics, the status page.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from '../../config/schema.js';
import { EVENTS } from '../../observability/events.js';
import type { Logger } from '../../observability/logger.js';
import { API_PREFIX } from '../api.js';
import { FailedAuthLimiter, bearerToken, tokenMatches } from './auth.js';
import { errorAnswer } from './errors.js';
import { failure } from '../../errors.js';
import { registerStoreRoutes, type StoreRouteDeps } from './stores.js';
import { registerMessageRoutes, type MessageRouteDeps } from './messages.js';
import { registerRoutingRoutes, type RoutingRouteDeps } from './routing.js';
import { registerHealthRoutes, type HealthRouteDeps } from './health.js';
import { registerStatusPage } from './status-page.js';

export interface AdminServerDeps extends StoreRouteDeps, MessageRouteDeps, RoutingRouteDeps, HealthRouteDeps {
  config: Config;
  logger: Logger;
  /** Whether the admin's Redis connection is up (to tell Redis trouble from bugs). */
  redisConnected: () => boolean;
  /** Served at /metrics in Prometheus's text format. */
  metrics: { contentType(): string; text(): Promise<string> };
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
      return done(failure('TOO_MANY_ATTEMPTS', 'too many failed attempts; wait a minute'));
    }
    if (!tokenMatches(bearerToken(request.headers.authorization), token)) {
      limiter.record(request.ip);
      // The token presented is never logged.
      logger.warn({ event: EVENTS.adminAuthFailed, client: request.ip, path: request.url }, 'admin API: bad token');
      return done(failure('UNAUTHORIZED', 'missing or wrong bearer token'));
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
  registerStatusPage(server);
  server.get('/metrics', async (_request, reply) =>
    reply.type(deps.metrics.contentType()).send(await deps.metrics.text()),
  );
  return server;
}

/** Listens on admin.host:admin.port and says so; returns the port (the one chosen, for port 0). */
export async function listenAdmin(server: FastifyInstance, config: Config, logger: Logger): Promise<number> {
  const { host, port, token } = config.admin;
  await server.listen({ host, port });
  const address = server.server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  logger.info({ event: EVENTS.adminListening, host, port: bound, auth: token !== undefined }, 'admin API listening');
  return bound;
}

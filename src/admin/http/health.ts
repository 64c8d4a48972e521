// /api/v1/health: liveness (the process answers) and readiness (Redis reachable, and how durable).
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { withTimeout } from '../../errors.js';
import { API_PREFIX, type ReadyResponse } from '../api.js';

export interface HealthRouteDeps {
  ready: () => Promise<ReadyResponse>;
}

export function registerHealthRoutes(server: FastifyInstance, deps: HealthRouteDeps): void {
  server.get(`${API_PREFIX}/health/live`, () => ({ live: true }));
  server.get(`${API_PREFIX}/health/ready`, async (_request, reply) => {
    const ready = await deps.ready();
    return reply.status(ready.ready ? 200 : 503).send(ready);
  });
}

/** Ready when Redis answers a PING within 2 s; says how durable Holdfast insists Redis be. */
export async function redisReadiness(
  redis: Redis,
  durability: 'strict' | 'relaxed',
  embeddedRedis: boolean,
): Promise<ReadyResponse> {
  const reachable = await withTimeout(redis.ping(), 2000, 'PING').then(
    () => true,
    () => false,
  );
  return { ready: reachable, redis: reachable ? 'reachable' : 'unreachable', durability, embeddedRedis };
}

// /api/v1/health: liveness (the process answers) and readiness (Redis reachable, and how durable).
import type { FastifyInstance } from 'fastify';
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

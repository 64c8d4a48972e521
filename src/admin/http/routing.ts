// /api/v1/routes: where an address is routed and why; set or remove a table entry; bulk import (CSV).
import { failure } from '../../errors.js';
import type { FastifyInstance } from 'fastify';
import { API_PREFIX, routeRequest, type RouteImportResponse, type RouteResponse } from '../api.js';
import type { RouteAdmin } from '../routes.js';

export interface RoutingRouteDeps {
  routeAdmin: RouteAdmin;
}

export function registerRoutingRoutes(server: FastifyInstance, deps: RoutingRouteDeps): void {
  const admin = deps.routeAdmin;
  const address = (params: unknown) => decodeURIComponent((params as { address: string }).address);

  server.get(`${API_PREFIX}/routes/:address`, async (request): Promise<RouteResponse> =>
    admin.explain(address(request.params)),
  );

  server.put(`${API_PREFIX}/routes/:address`, async (request): Promise<RouteResponse> => {
    const { mailstore } = routeRequest.parse(request.body);
    await admin.set(address(request.params), mailstore);
    return admin.explain(address(request.params));
  });

  server.delete(`${API_PREFIX}/routes/:address`, async (request): Promise<RouteResponse> => {
    await admin.remove(address(request.params));
    return admin.explain(address(request.params));
  });

  /**
   * Body: the routing file's text (`address,mailstore` per line); `?replace=true` swaps the whole
   * table; `?source=` names the file in the problems reported.
   */
  server.post(`${API_PREFIX}/routes/import`, async (request): Promise<RouteImportResponse> => {
    if (typeof request.body !== 'string') {
      throw failure('INVALID_REQUEST', 'send the routing file as text/csv or text/plain');
    }
    const { replace, source = 'import' } = request.query as { replace?: string; source?: string };
    return admin.importText(request.body, source, { replace: replace === 'true' });
  });
}

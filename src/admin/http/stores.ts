// /api/v1/stores and /audit: every store's status; hold, release, probe, replay, move, endpoints, windows; the audit trail.
import { failure } from '../../errors.js';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config/schema.js';
import { parseDuration } from '../../config/units.js';
import {
  API_PREFIX,
  auditQuery,
  endpointsRequest,
  holdRequest,
  moveRequest,
  noteRequest,
  reasonRequest,
  releaseRequest,
  replayRequest,
  type AuditResponse,
  type HoldResponse,
  type ProbeResponse,
  type ReplayResponse,
  type StateResponse,
  type StoresResponse,
  type WindowsResponse,
} from '../api.js';
import type { MailstoreAdmin } from '../mailstores.js';
import type { StoreAdmin } from '../stores.js';
import type { ReplayAdmin } from '../replay.js';

export interface StoreRouteDeps {
  config: Config;
  mailstoreAdmin: MailstoreAdmin;
  storeAdmin: StoreAdmin;
  replayAdmin: ReplayAdmin;
  /** Probes the store now (from a node that delivers); a tripped store that answers is released. */
  probe: (mailstore: string) => Promise<ProbeResponse>;
  now: () => number;
}

/** A time given as milliseconds, an ISO string, or a duration from now. */
export function parseApiTime(field: string, value: number | string, now: number): number {
  if (typeof value === 'number') return value;
  const duration = parseDuration(value);
  if (duration !== undefined) return now + duration;
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw failure('INVALID_REQUEST', `${field}: not a time or a duration: ${value}`);
  return time;
}

/** A time in the past given as milliseconds, an ISO string, or a duration ago. */
export function parsePastTime(field: string, value: number | string, now: number): number {
  const duration = typeof value === 'string' ? parseDuration(value) : undefined;
  return duration === undefined ? parseApiTime(field, value, now) : now - duration;
}

export function registerStoreRoutes(server: FastifyInstance, deps: StoreRouteDeps): void {
  const { mailstoreAdmin: admin, storeAdmin } = deps;
  const store = (params: unknown): string => {
    const { store: id } = params as { store: string };
    if (!Object.hasOwn(deps.config.mailstores, id)) throw failure('NOT_FOUND', `unknown mailstore "${id}"`);
    return id;
  };
  const by = (given: string | undefined) => given ?? 'api';

  server.get(`${API_PREFIX}/stores`, async (): Promise<StoresResponse> => ({ stores: await admin.status() }));

  server.get(`${API_PREFIX}/audit`, async (request): Promise<AuditResponse> => {
    const { limit } = auditQuery.parse(request.query);
    return { entries: await admin.audit(limit) };
  });

  server.get(`${API_PREFIX}/stores/:store`, async (request) => {
    const id = store(request.params);
    return (await admin.status()).find((status) => status.mailstore === id);
  });

  server.post(`${API_PREFIX}/stores/:store/hold`, async (request): Promise<HoldResponse> => {
    const id = store(request.params);
    const body = holdRequest.parse(request.body);
    const now = deps.now();
    const until = body.until === undefined ? undefined : parseApiTime('until', body.until, now);
    const from = body.from === undefined ? undefined : parseApiTime('from', body.from, now);
    if (from !== undefined && until === undefined) {
      throw failure('INVALID_REQUEST', 'from needs until: a maintenance window has an end');
    }
    if (from !== undefined && until !== undefined && from > now) {
      return { scheduled: await admin.scheduleHold(id, { from, until, reason: body.reason, by: by(body.by) }) };
    }
    return { state: await admin.hold(id, { reason: body.reason, by: by(body.by), until }) };
  });

  server.delete(`${API_PREFIX}/stores/:store/windows`, async (request): Promise<WindowsResponse> => {
    const id = store(request.params);
    const body = noteRequest.parse(request.body ?? {});
    return { cancelled: await admin.cancelWindows(id, { by: by(body.by), reason: body.reason }) };
  });

  server.post(`${API_PREFIX}/stores/:store/release`, async (request): Promise<StateResponse> => {
    const id = store(request.params);
    const body = releaseRequest.parse(request.body ?? {});
    return { state: await admin.release(id, { ...body, by: by(body.by) }) };
  });

  server.post(`${API_PREFIX}/stores/:store/confirm-bounces`, async (request): Promise<StateResponse> => {
    const id = store(request.params);
    const body = noteRequest.parse(request.body ?? {});
    return { state: await admin.confirmBounces(id, { by: by(body.by), reason: body.reason }) };
  });

  server.post(`${API_PREFIX}/stores/:store/probe`, async (request): Promise<ProbeResponse> =>
    deps.probe(store(request.params)),
  );

  server.post(`${API_PREFIX}/stores/:store/replay`, async (request): Promise<ReplayResponse> => {
    const id = store(request.params);
    const body = replayRequest.parse(request.body);
    const now = deps.now();
    const since = parsePastTime('since', body.since, now);
    const until = body.until === undefined ? now : parsePastTime('until', body.until, now);
    return deps.replayAdmin.replay(id, { ...body, since, until, by: by(body.by) });
  });

  server.post(`${API_PREFIX}/stores/:store/move`, async (request) => {
    const id = store(request.params);
    const body = moveRequest.parse(request.body);
    await storeAdmin.move(id, body.to, { by: by(body.by), reason: body.reason });
    return { mailstore: id, movedTo: body.to };
  });

  server.post(`${API_PREFIX}/stores/:store/unmove`, async (request) => {
    const id = store(request.params);
    const body = reasonRequest.parse(request.body);
    await storeAdmin.unmove(id, { by: by(body.by), reason: body.reason });
    return { mailstore: id };
  });

  server.put(`${API_PREFIX}/stores/:store/endpoints`, async (request) => {
    const id = store(request.params);
    const body = endpointsRequest.parse(request.body);
    await storeAdmin.setEndpoints(id, body.endpoints, { by: by(body.by), reason: body.reason });
    return { mailstore: id, endpoints: body.endpoints };
  });

  server.delete(`${API_PREFIX}/stores/:store/endpoints`, async (request) => {
    const id = store(request.params);
    const body = reasonRequest.parse(request.body);
    await storeAdmin.resetEndpoints(id, { by: by(body.by), reason: body.reason });
    return { mailstore: id };
  });
}

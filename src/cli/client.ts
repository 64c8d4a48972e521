// The CLI's HTTP client of the admin API: typed calls, and errors an operator can act on.
import type {
  ApiErrorBody,
  AuditResponse,
  EndpointsRequest,
  HoldRequest,
  HoldResponse,
  MessageActionRequest,
  MessageActionResponse,
  MessageDetail,
  MessageListQuery,
  MessageListResponse,
  MoveRequest,
  NoteRequest,
  ProbeResponse,
  ReasonRequest,
  ReleaseRequest,
  ReplayRequest,
  ReplayResponse,
  RouteImportResponse,
  RouteResponse,
  StateResponse,
  StoreResponse,
  StoresResponse,
  TraceQuery,
  TraceResponse,
  WindowsResponse,
} from '../admin/api.js';
import { API_PREFIX } from '../admin/api.js';

/** The API answered with an error. */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

/** Nothing answered at the API's address. */
export class ApiUnreachableError extends Error {
  constructor(url: string, cause: unknown) {
    super(
      `cannot reach the admin API at ${url} (${(cause as Error).message}); is holdfast running, and is --url or admin.host/admin.port right?`,
    );
    this.name = 'ApiUnreachableError';
  }
}

const store = (id: string) => `/stores/${encodeURIComponent(id)}`;

/** A query string of the parameters given (undefined ones left out). */
function queryString(query: object): string {
  const parameters = new URLSearchParams();
  for (const [key, value] of Object.entries(query) as Array<[string, string | number | undefined]>) {
    if (value !== undefined) parameters.set(key, String(value));
  }
  return parameters.toString();
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | undefined,
    private readonly timeoutMs = 60_000,
  ) {}

  stores = () => this.request<StoresResponse>('GET', '/stores');
  store = (id: string) => this.request<StoreResponse>('GET', store(id));
  hold = (id: string, body: HoldRequest) => this.request<HoldResponse>('POST', `${store(id)}/hold`, body);
  release = (id: string, body: ReleaseRequest) => this.request<StateResponse>('POST', `${store(id)}/release`, body);
  confirmBounces = (id: string, body: NoteRequest) =>
    this.request<StateResponse>('POST', `${store(id)}/confirm-bounces`, body);
  cancelWindows = (id: string, body: NoteRequest) =>
    this.request<WindowsResponse>('DELETE', `${store(id)}/windows`, body);
  probe = (id: string) => this.request<ProbeResponse>('POST', `${store(id)}/probe`, {});
  move = (id: string, body: MoveRequest) => this.request<unknown>('POST', `${store(id)}/move`, body);
  unmove = (id: string, body: ReasonRequest) => this.request<unknown>('POST', `${store(id)}/unmove`, body);
  setEndpoints = (id: string, body: EndpointsRequest) => this.request<unknown>('PUT', `${store(id)}/endpoints`, body);
  resetEndpoints = (id: string, body: ReasonRequest) => this.request<unknown>('DELETE', `${store(id)}/endpoints`, body);
  /** A replay of many messages takes a while: it may take up to 10 minutes. */
  replay = (id: string, body: ReplayRequest) =>
    this.request<ReplayResponse>('POST', `${store(id)}/replay`, body, Math.max(this.timeoutMs, 600_000));
  audit = (limit: number) => this.request<AuditResponse>('GET', `/audit?limit=${limit}`);

  messages = (query: MessageListQuery) => this.request<MessageListResponse>('GET', `/messages?${queryString(query)}`);
  message = (queueId: string) => this.request<MessageDetail>('GET', `/messages/${encodeURIComponent(queueId)}`);
  act = (body: MessageActionRequest) => this.request<MessageActionResponse>('POST', '/messages/actions', body);

  trace = (query: TraceQuery) => this.request<TraceResponse>('GET', `/trace?${queryString(query)}`);

  route = (address: string) => this.request<RouteResponse>('GET', `/routes/${encodeURIComponent(address)}`);
  setRoute = (address: string, mailstore: string) =>
    this.request<RouteResponse>('PUT', `/routes/${encodeURIComponent(address)}`, { mailstore });
  deleteRoute = (address: string) => this.request<RouteResponse>('DELETE', `/routes/${encodeURIComponent(address)}`);
  importRoutes = (text: string, replace: boolean, source: string) =>
    this.request<RouteImportResponse>(
      'POST',
      `/routes/import?replace=${replace}&source=${encodeURIComponent(source)}`,
      text,
    );

  async request<T>(method: string, path: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    const url = `${this.baseUrl}${API_PREFIX}${path}`;
    const headers: Record<string, string> = {};
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    let payload: string | undefined;
    if (typeof body === 'string') {
      headers['content-type'] = 'text/csv';
      payload = body;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body: payload, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw new ApiUnreachableError(this.baseUrl, (error as Error).cause ?? error);
    }
    const text = await response.text();
    const parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
    if (!response.ok) {
      const { code = 'INTERNAL', message = text } = (parsed ?? {}) as Partial<ApiErrorBody>;
      throw new ApiRequestError(response.status, code, message);
    }
    return parsed as T;
  }
}

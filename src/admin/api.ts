// The admin API's contract, shared by the HTTP server and the CLI client: request schemas and response types.
import { failure, type ErrorCode } from '../errors.js';
import { parseDuration } from '../config/units.js';
import type { MessageAction, MessageFilter } from './messages.js';
import { z } from 'zod';
import type { MailstoreStatus } from './mailstores.js';
import type { BulkResult } from './messages.js';
import type { RouteExplanation } from './routes.js';
import type { QueuedMessage } from '../queue/message-controls.js';
import type { AuditEntry, MailstoreState } from '../policy/mailstore-state.js';
import type { MaintenanceWindow } from '../policy/maintenance.js';
import type { TracedMessage } from './trace.js';
import type { TraceEvent, TraceKind } from '../repositories/trace.js';
import type { ReplayResult } from './replay.js';

export const API_PREFIX = '/api/v1';

/** Every error the API answers: a stable code, a message for people, and the HTTP status. */
export interface ApiErrorBody {
  code: ErrorCode;
  message: string;
}

const actor = { by: z.string().min(1).max(200).optional() };
const reason = z.string().trim().min(1, 'give a reason (kept in the audit trail)').max(1000);
/** A time: milliseconds since the epoch, an ISO string, or a duration from now ("2h"). */
const time = z.union([z.number().int().nonnegative(), z.string().min(1)]);

export const holdRequest = z.strictObject({ ...actor, reason, until: time.optional(), from: time.optional() });
export const releaseRequest = z.strictObject({
  ...actor,
  reason: reason.optional(),
  rate: z.number().positive().optional(),
  concurrency: z.number().int().positive().optional(),
});
export const noteRequest = z.strictObject({ ...actor, reason: reason.optional() });
export const moveRequest = z.strictObject({ ...actor, reason, to: z.string().min(1) });
export const reasonRequest = z.strictObject({ ...actor, reason });
export const endpointsRequest = z.strictObject({ ...actor, reason, endpoints: z.array(z.string().min(3)).min(1) });
/** `since` and `until`: milliseconds, an ISO string, or a duration ago ("6h"); `until` defaults to now. */
export const replayRequest = z.strictObject({
  ...actor,
  reason: z.string().trim().max(1000).optional(),
  since: time,
  until: time.optional(),
  recipient: z.string().min(1).optional(),
  dryRun: z.boolean().default(false),
});

export const messageFilter = z.strictObject({
  queueId: z.string().min(1).optional(),
  store: z.string().min(1).optional(),
  recipient: z.string().min(1).optional(),
  sender: z.string().optional(),
  /** A duration ("2h", "3d"). */
  olderThan: z.string().min(1).optional(),
});
export const messageListQuery = messageFilter.extend({
  state: z.enum(['waiting', 'delayed', 'held', 'failed']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});
export const messageActionRequest = z.strictObject({
  ...actor,
  action: z.enum(['hold', 'release', 'retry', 'delete']),
  filter: messageFilter,
  /** An action with an empty filter must say so. */
  all: z.boolean().default(false),
  dryRun: z.boolean().default(false),
  reason: z.string().trim().max(1000).optional(),
});
export const traceQuery = z.strictObject({
  queueId: z.string().min(1).optional(),
  messageId: z.string().min(1).optional(),
  recipient: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
});
export const routeRequest = z.strictObject({ mailstore: z.string().min(1) });
export const auditQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(10_000).default(20) });

export type HoldRequest = z.input<typeof holdRequest>;
export type ReleaseRequest = z.input<typeof releaseRequest>;
export type NoteRequest = z.input<typeof noteRequest>;
export type MoveRequest = z.input<typeof moveRequest>;
export type ReasonRequest = z.input<typeof reasonRequest>;
export type EndpointsRequest = z.input<typeof endpointsRequest>;
export type ReplayRequest = z.input<typeof replayRequest>;
export type MessageListQuery = z.input<typeof messageListQuery>;
export type MessageActionRequest = z.input<typeof messageActionRequest>;
export type TraceQuery = z.input<typeof traceQuery>;

export interface StoresResponse {
  stores: MailstoreStatus[];
}
export type StoreResponse = MailstoreStatus;
export interface StateResponse {
  state: MailstoreState;
}
export interface HoldResponse {
  state?: MailstoreState;
  scheduled?: MaintenanceWindow;
}
export interface WindowsResponse {
  cancelled: MaintenanceWindow[];
}
export interface ProbeResponse {
  answered: boolean;
  state: MailstoreState;
}
export interface MessageListResponse {
  messages: QueuedMessage[];
  total: number;
  offset: number;
  limit: number;
}
export interface MessageDetail {
  queueId: string;
  sender: string;
  receivedAt: number;
  size: number;
  client: string;
  /** The message's header block as received (the body is not shown). */
  headers: string;
  /** Its delivery jobs still queued, one per store. */
  jobs: QueuedMessage[];
  /** Its trace: accepted, each attempt's replies, operator actions, oldest first. */
  events: TraceEvent[];
}
export type MessageActionResponse = BulkResult;
export type ReplayResponse = ReplayResult;
export interface TraceResponse {
  messages: TracedMessage[];
}
export type RouteResponse = RouteExplanation;
export interface RouteImportResponse {
  loaded: number;
  tableSize: number;
}
export interface AuditResponse {
  entries: AuditEntry[];
}
export interface ReadyResponse {
  ready: boolean;
  redis: 'reachable' | 'unreachable';
  durability: 'strict' | 'relaxed';
  embeddedRedis: boolean;
}

/** The boundaries, in minutes, of a store's backlog age shape (status: under 5, 5-10 ... over 1280). */
export const SHAPE_MINUTES = [5, 10, 20, 40, 80, 160, 320, 640, 1280] as const;

const PAST: Record<MessageAction, TraceKind> = {
  hold: 'held',
  release: 'released',
  retry: 'retried',
  delete: 'deleted',
};

/** A message action as the trace and the log name it once done (hold: held). */
export function pastTense(action: MessageAction): TraceKind {
  return PAST[action];
}

export function describeFilter(filter: MessageFilter): string {
  const parts = Object.entries(filter).filter(([, value]) => value !== undefined);
  return parts.map(([key, value]) => `${key}=${String(value)}`).join(' ') || 'all';
}

/** The API's filter (store, olderThan as a duration) as the message service takes it. */
export function toMessageFilter(filter: {
  queueId?: string;
  store?: string;
  recipient?: string;
  sender?: string;
  olderThan?: string;
}): MessageFilter {
  const olderThanMs = filter.olderThan === undefined ? undefined : parseDuration(filter.olderThan);
  if (filter.olderThan !== undefined && olderThanMs === undefined) {
    throw failure('INVALID_REQUEST', `olderThan: not a duration: ${filter.olderThan}`);
  }
  const { queueId, store: mailstore, recipient, sender } = filter;
  const filterOut: MessageFilter = Object.fromEntries(
    Object.entries({ queueId, mailstore, recipient, sender, olderThanMs }).filter(([, value]) => value !== undefined),
  );
  return filterOut;
}

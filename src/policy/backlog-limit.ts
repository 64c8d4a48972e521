// Pure: whether a store's backlog is over the limits set for it, and which.

export interface BacklogLimit {
  /** 0: no limit. */
  messages: number;
  bytes: number;
  oldestAge: number;
}

export interface BacklogFigures {
  messages: number;
  bytes: number;
  oldestReceivedAt?: number;
}

export function hasBacklogLimit(limit: BacklogLimit): boolean {
  return limit.messages > 0 || limit.bytes > 0 || limit.oldestAge > 0;
}

/** The limits the backlog has reached (empty: under every limit). */
export function backlogOverLimit(backlog: BacklogFigures, limit: BacklogLimit, now: number): string[] {
  const over: string[] = [];
  if (limit.messages > 0 && backlog.messages >= limit.messages) over.push('messages');
  if (limit.bytes > 0 && backlog.bytes >= limit.bytes) over.push('bytes');
  const oldest = backlog.oldestReceivedAt;
  if (limit.oldestAge > 0 && oldest !== undefined && now - oldest >= limit.oldestAge) over.push('oldestAge');
  return over;
}

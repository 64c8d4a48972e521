// Builds the Received: trace header Holdfast prepends to every message (RFC 5321 section 4.4).

export interface TraceInfo {
  helo: string;
  clientHostname: string;
  clientAddress: string;
  hostname: string;
  protocol: 'ESMTP' | 'ESMTPS' | 'SMTP';
  queueId: string;
  recipient?: string;
  date: Date;
}

export function receivedHeader(trace: TraceInfo): string {
  const from = `from ${trace.helo || 'unknown'} (${trace.clientHostname || 'unknown'} [${trace.clientAddress}])`;
  const forClause = trace.recipient ? `\r\n\tfor <${trace.recipient}>` : '';
  return (
    `Received: ${from}\r\n\tby ${trace.hostname} (Holdfast) with ${trace.protocol} id ${trace.queueId}` +
    `${forClause}; ${formatRfc5322Date(trace.date)}\r\n`
  );
}

/** "Mon, 23 Nov 2026 10:57:01 +0000" */
export function formatRfc5322Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

// Delivers to a mailstore through its ordered endpoints, falling through those that do not answer.
import type { MailstoreConfig } from '../config/schema.js';
import { EndpointClient, type EndpointResult } from './transport.js';

export type AttemptResult =
  | Extract<EndpointResult, { kind: 'answered' }>
  | { kind: 'unreachable'; errors: Array<{ remote: string; error: string }> };

export class MailstoreClient {
  private readonly endpoints: EndpointClient[];

  constructor(
    readonly id: string,
    config: MailstoreConfig,
    hostname: string,
  ) {
    this.endpoints = config.endpoints.map((endpoint) => new EndpointClient(endpoint, config, hostname));
  }

  /** Tries the endpoints in order (primary first) until one holds the transaction. */
  async deliver(sender: string, recipients: readonly string[], body: Buffer): Promise<AttemptResult> {
    const errors: Array<{ remote: string; error: string }> = [];
    for (const endpoint of this.endpoints) {
      const result = await endpoint.send(sender, recipients, body);
      if (result.kind === 'answered') return result;
      errors.push({ remote: result.remote, error: result.error });
    }
    return { kind: 'unreachable', errors };
  }

  /** True when any endpoint answers a connection, its greeting and LHLO/EHLO. */
  async probe(): Promise<boolean> {
    for (const endpoint of this.endpoints) if (await endpoint.probe()) return true;
    return false;
  }

  close(): void {
    for (const endpoint of this.endpoints) endpoint.close();
  }
}

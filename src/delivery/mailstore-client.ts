// Delivers to a mailstore through its ordered endpoints, falling through those that do not answer.
import type { MailstoreConfig } from '../config/schema.js';
import { EndpointClient, type EndpointResult } from './transport.js';
import { endpointName, parseEndpoint } from '../config/units.js';

export type AttemptResult =
  | Extract<EndpointResult, { kind: 'answered' }>
  | { kind: 'unreachable'; errors: Array<{ remote: string; error: string }> };

export class MailstoreClient {
  private endpoints: EndpointClient[];
  private endpointNames: string[];

  constructor(
    readonly id: string,
    private readonly config: MailstoreConfig,
    private readonly hostname: string,
  ) {
    this.endpointNames = config.endpoints.map(endpointName);
    this.endpoints = config.endpoints.map((endpoint) => new EndpointClient(endpoint, config, hostname));
  }

  /**
   * Switches to other endpoints (an operator changed them live), or back to the config's with
   * undefined. Attempts in progress finish on the old connections, which are then closed.
   */
  useEndpoints(endpoints: string[] | undefined): void {
    const wanted = endpoints ?? this.config.endpoints.map(endpointName);
    if (wanted.join(',') === this.endpointNames.join(',')) return;
    const old = this.endpoints;
    this.endpointNames = wanted;
    // Endpoints given live were checked when the operator set them.
    this.endpoints = wanted.map((endpoint) => new EndpointClient(parseEndpoint(endpoint)!, this.config, this.hostname));
    for (const endpoint of old) endpoint.close();
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

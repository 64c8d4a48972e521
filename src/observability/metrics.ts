// Prometheus metrics: counters fed by intake and delivery, gauges read at scrape time from counters Holdfast keeps.
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MetricsJson } from '../process/delivery-processes.js';
import type { MailstoreStatus } from '../admin/mailstores.js';
import type { RetentionMetrics } from '../delivery/retain.js';

/** A recipient's outcome in one attempt, or at expiry. */
export type RecipientOutcome = 'delivered' | 'deferred' | 'refused' | 'expired' | 'unreachable';

/** What delivery reports (delivery does not import prom-client). */
export interface DeliveryMetrics {
  attempt(mailstore: string, seconds: number, result: 'answered' | 'unreachable'): void;
  recipients(mailstore: string, outcome: RecipientOutcome, count: number): void;
}

/** What a scrape reads: every store's status (counters and indexes, no job scan), and Redis. */
export interface MetricsSources {
  stores: () => Promise<MailstoreStatus[]>;
  redisMemory: () => { usedBytes: number; maxBytes: number } | undefined;
  /** The durability Holdfast found at start, and again after each reconnect: true when Redis fsyncs every write. */
  redisDurable: () => boolean;
  durabilityMode: 'strict' | 'relaxed';
  now: () => number;
  /** The counters and histograms of this node's delivery processes, added to its own at each scrape. */
  otherProcesses?: () => Promise<MetricsJson[]>;
}

export const STATES = ['open', 'held', 'tripped', 'guarded', 'releasing'] as const;

export class Metrics implements DeliveryMetrics, RetentionMetrics {
  readonly registry = new Registry();
  /** The counters and histograms again: what a delivery process sends the main process. */
  private readonly counters = new Registry();
  private readonly smtpReplies = new Counter({
    name: 'holdfast_smtp_replies_total',
    help: 'SMTP replies sent, by stage and reply code (250 at data = accepted messages)',
    labelNames: ['stage', 'code'],
    registers: [this.registry, this.counters],
  });
  private readonly recipientOutcomes = new Counter({
    name: 'holdfast_delivery_recipients_total',
    help: 'Recipients by mailstore and outcome of an attempt (or expiry)',
    labelNames: ['mailstore', 'outcome'],
    registers: [this.registry, this.counters],
  });
  private readonly attempts = new Histogram({
    name: 'holdfast_delivery_attempt_duration_seconds',
    help: 'Duration of delivery attempts (one LMTP/SMTP transaction), by mailstore and result',
    labelNames: ['mailstore', 'result'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry, this.counters],
  });
  private readonly automatic = new Counter({
    name: 'holdfast_mailstore_automatic_stops_total',
    help: 'Stores this node tripped (connection failures) or guarded (5xx burst)',
    labelNames: ['mailstore', 'kind'],
    registers: [this.registry, this.counters],
  });

  private readonly retainedCopies = new Counter({
    name: 'holdfast_retention_copies_total',
    help: 'Copies of delivered mail this node retained for replay, by mailstore',
    labelNames: ['mailstore'],
    registers: [this.registry, this.counters],
  });
  private readonly retentionDiscarded = new Counter({
    name: 'holdfast_retention_discarded_total',
    help: 'Retained copies dropped (expired, budget) or not kept (too-big, no-room, memory, error), by mailstore and reason',
    labelNames: ['mailstore', 'reason'],
    registers: [this.registry, this.counters],
  });
  private readonly replays = new Counter({
    name: 'holdfast_replayed_messages_total',
    help: 'Retained copies an operator queued again (holdfast replay), by mailstore',
    labelNames: ['mailstore'],
    registers: [this.registry, this.counters],
  });

  constructor(private readonly sources: MetricsSources) {
    const { registry } = this;
    let snapshot: Promise<MailstoreStatus[]> | undefined;
    // One status read per scrape, shared by every store gauge.
    const stores = () => (snapshot ??= sources.stores().finally(() => setTimeout(() => (snapshot = undefined), 0)));
    const storeGauge = (
      name: string,
      help: string,
      labelNames: string[],
      fill: (gauge: Gauge, status: MailstoreStatus) => void,
    ) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [registry],
        async collect() {
          this.reset();
          for (const status of await stores()) fill(this, status);
        },
      });
    storeGauge(
      'holdfast_queue_messages',
      'Delivery jobs by mailstore and queue state',
      ['mailstore', 'state'],
      (g, s) => {
        for (const [state, count] of Object.entries(s.counts) as Array<[string, number]>) {
          g.set({ mailstore: s.mailstore, state }, count);
        }
      },
    );
    storeGauge('holdfast_backlog_messages', 'Messages still to deliver, by mailstore', ['mailstore'], (g, s) =>
      g.set({ mailstore: s.mailstore }, s.backlog.messages),
    );
    storeGauge(
      'holdfast_backlog_bytes',
      'Bytes of the messages still to deliver, by mailstore',
      ['mailstore'],
      (g, s) => g.set({ mailstore: s.mailstore }, s.backlog.bytes),
    );
    storeGauge(
      'holdfast_oldest_message_age_seconds',
      'Age of the oldest message still to deliver (0 when none), by mailstore',
      ['mailstore'],
      (g, s) => g.set({ mailstore: s.mailstore }, s.backlog.oldestAgeSeconds ?? 0),
    );
    storeGauge(
      'holdfast_messages_expiring_soon',
      'Messages in the last day (or fifth) of their lifetime, by mailstore',
      ['mailstore'],
      (g, s) => g.set({ mailstore: s.mailstore }, s.backlog.expiringSoon),
    );
    storeGauge(
      'holdfast_mailstore_state',
      'The state of each mailstore: 1 for the current one',
      ['mailstore', 'state'],
      (g, s) => {
        for (const state of STATES) g.set({ mailstore: s.mailstore, state }, s.state.kind === state ? 1 : 0);
      },
    );
    storeGauge(
      'holdfast_mailstore_state_age_seconds',
      'How long the mailstore has been held, tripped, guarded or releasing (0 when open)',
      ['mailstore'],
      (g, s) => g.set({ mailstore: s.mailstore }, 'since' in s.state ? (sources.now() - s.state.since) / 1000 : 0),
    );
    storeGauge(
      'holdfast_release_rate',
      'Messages per second allowed while releasing (0 otherwise)',
      ['mailstore'],
      (g, s) => g.set({ mailstore: s.mailstore }, s.state.kind === 'releasing' ? s.state.rate : 0),
    );
    storeGauge(
      'holdfast_retained_messages',
      'Retained copies of delivered mail, ready for replay, by mailstore',
      ['mailstore'],
      (g, s) => {
        if (s.retention) g.set({ mailstore: s.mailstore }, s.retention.messages);
      },
    );
    storeGauge(
      'holdfast_retained_bytes',
      'Stored bytes (compressed bodies and metadata) of the retained copies, by mailstore',
      ['mailstore'],
      (g, s) => {
        if (s.retention) g.set({ mailstore: s.mailstore }, s.retention.bytes);
      },
    );
    storeGauge(
      'holdfast_retained_oldest_age_seconds',
      'Age of the oldest retained copy (0 when none): how far back a replay can reach, by mailstore',
      ['mailstore'],
      (g, s) => {
        const oldest = s.retention?.oldestAt;
        if (s.retention) g.set({ mailstore: s.mailstore }, oldest === undefined ? 0 : (sources.now() - oldest) / 1000);
      },
    );
    new Gauge({
      name: 'holdfast_redis_memory_bytes',
      help: 'Redis memory: used, and maxmemory (0: none set)',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        const reading = sources.redisMemory();
        if (!reading) return;
        this.set({ kind: 'used' }, reading.usedBytes);
        this.set({ kind: 'max' }, reading.maxBytes);
      },
    });
    new Gauge({
      name: 'holdfast_redis_durable',
      help: '1 when Redis fsyncs every write (checked at start); the label says whether Holdfast insists on it',
      labelNames: ['mode'],
      registers: [registry],
      collect() {
        this.reset();
        this.set({ mode: sources.durabilityMode }, sources.redisDurable() ? 1 : 0);
      },
    });
  }

  smtpReply(stage: string, code: number): void {
    this.smtpReplies.inc({ stage, code: String(code) });
  }

  attempt(mailstore: string, seconds: number, result: 'answered' | 'unreachable'): void {
    this.attempts.observe({ mailstore, result }, seconds);
  }

  recipients(mailstore: string, outcome: RecipientOutcome, count: number): void {
    if (count > 0) this.recipientOutcomes.inc({ mailstore, outcome }, count);
  }

  retained(mailstore: string): void {
    this.retainedCopies.inc({ mailstore });
  }

  discarded(mailstore: string, reason: string, count: number): void {
    if (count > 0) this.retentionDiscarded.inc({ mailstore, reason }, count);
  }

  replayed(mailstore: string, count: number): void {
    if (count > 0) this.replays.inc({ mailstore }, count);
  }

  automaticStop(mailstore: string, kind: 'trip' | 'guard'): void {
    this.automatic.inc({ mailstore, kind });
  }

  contentType(): string {
    return this.registry.contentType;
  }

  async text(): Promise<string> {
    if (!this.sources.otherProcesses) return this.registry.metrics();
    const [own, others] = await Promise.all([this.registry.getMetricsAsJSON(), this.sources.otherProcesses()]);
    // Counters and histograms add up; gauges come from this process only (the others send none).
    return AggregatorRegistry.aggregate([own, ...others]).metrics();
  }

  /**
   * What a delivery process sends the main process: its counters and histograms. Its gauges read
   * the same Redis as the main process's and would count twice.
   */
  async countersJson(): Promise<MetricsJson> {
    return this.counters.getMetricsAsJSON();
  }
}

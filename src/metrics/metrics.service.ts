import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type IdempotencyOutcome = 'new' | 'replayed' | 'mismatch' | 'in_progress';

/** Prometheus metrics of the service; one registry per application instance. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  private readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  private readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  private readonly idempotency = new Counter({
    name: 'idempotency_requests_total',
    help: 'Requests with an Idempotency-Key by outcome: new (executed), replayed, mismatch (422), in_progress (409).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly charges = new Counter({
    name: 'charges_total',
    help: 'Charge attempts by outcome (succeeded, authorized, or the problem code).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly chargeDuration = new Histogram({
    name: 'charge_duration_seconds',
    help: 'Time to execute a new charge inside its transaction (replays excluded).',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  private readonly duplicateAge = new Histogram({
    name: 'idempotency_duplicate_age_seconds',
    help: 'Age of a key (seconds since its record was written) when a duplicate request with it arrives, by outcome: replayed, mismatch (422), in_progress (409).',
    labelNames: ['outcome'] as const,
    buckets: [0.01, 0.1, 0.5, 1, 5, 30, 60, 300, 1800, 3600, 21600, 86400],
    registers: [this.registry],
  });

  private readonly rateLimitStoreErrors = new Counter({
    name: 'rate_limit_store_errors_total',
    help: 'Requests let through without a rate-limit check because the shared store (Redis) did not answer.',
    registers: [this.registry],
  });

  private readonly acquirerRequests = new Counter({
    name: 'acquirer_requests_total',
    help: 'Requests to the card acquirer by outcome: captured, declined, refused (422), error500, timeout, network, unavailable (503), in_flight (409), unexpected; lookup_captured, lookup_declined, lookup_absent, lookup_failed for the reconciliation read.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly leaseTakeovers = new Counter({
    name: 'idempotency_lease_takeovers_total',
    help: 'Unfinished card keys taken over from a free or expired lease, by who: request (a retry) or completer.',
    labelNames: ['by'] as const,
    registers: [this.registry],
  });

  private readonly leaseLost = new Counter({
    name: 'idempotency_lease_lost_total',
    help: 'Results dropped because the worker no longer held the key (its lease lapsed and another took it).',
    registers: [this.registry],
  });

  private readonly completerActions = new Counter({
    name: 'completer_actions_total',
    help: 'What the completer did with an unfinished card key: rolled_back (at started), finished, undecided (still acquirer_called), lost_lease.',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });

  /** Set by the card charges' module: reads the keys by recovery point when /metrics is scraped. */
  cardKeyCensus: (() => Promise<{ byPoint: Record<string, number>; oldestUnfinishedSeconds: number }>) | undefined;

  private readonly cardKeys = new Gauge({
    name: 'card_charge_keys',
    help: 'Card charge keys by recovery point (started, acquirer_called, finished).',
    labelNames: ['recovery_point'] as const,
    registers: [this.registry],
    collect: async () => {
      const census = await this.cardKeyCensus?.().catch(() => undefined);
      if (!census) return;
      for (const [point, keys] of Object.entries(census.byPoint)) this.cardKeys.set({ recovery_point: point }, keys);
      this.oldestUnfinished.set(census.oldestUnfinishedSeconds);
    },
  });

  private readonly oldestUnfinished = new Gauge({
    name: 'card_charge_oldest_unfinished_key_age_seconds',
    help: 'Age of the oldest card charge key not yet finished (0 when none); read with card_charge_keys.',
    registers: [this.registry],
  });

  private readonly webhookDeliveries = new Counter({
    name: 'webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome: delivered (2xx), retry (failed, retried later), give_up (failed, schedule spent), gone (410: endpoint disabled), lost_claim (the claim had lapsed; another worker owns the delivery).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  /** Set by the webhooks' module: reads the delivery queue when /metrics is scraped. */
  webhookCensus: (() => Promise<{ queueDepth: number; oldestUndeliveredSeconds: number }>) | undefined;

  private readonly webhookQueueDepth = new Gauge({
    name: 'webhook_delivery_queue_depth',
    help: 'Webhook deliveries pending (due or waiting for a retry) to enabled endpoints.',
    registers: [this.registry],
    collect: async () => {
      const census = await this.webhookCensus?.().catch(() => undefined);
      if (!census) return;
      this.webhookQueueDepth.set(census.queueDepth);
      this.webhookOldestUndelivered.set(census.oldestUndeliveredSeconds);
    },
  });

  private readonly webhookOldestUndelivered = new Gauge({
    name: 'webhook_oldest_undelivered_event_age_seconds',
    help: 'Age of the oldest event with a delivery still pending to an enabled endpoint (0 when none); read with webhook_delivery_queue_depth.',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  countWebhookDelivery(outcome: string): void {
    this.webhookDeliveries.inc({ outcome });
  }

  observeHttp(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);
  }

  countIdempotency(outcome: IdempotencyOutcome): void {
    this.idempotency.inc({ outcome });
  }

  observeDuplicateAge(outcome: Exclude<IdempotencyOutcome, 'new'>, seconds: number): void {
    this.duplicateAge.observe({ outcome }, seconds);
  }

  countRateLimitStoreError(): void {
    this.rateLimitStoreErrors.inc();
  }

  observeCharge(outcome: string, seconds: number): void {
    this.charges.inc({ outcome });
    this.chargeDuration.observe(seconds);
  }

  countAcquirer(outcome: string): void {
    this.acquirerRequests.inc({ outcome });
  }

  countLeaseTakeover(by: 'request' | 'completer'): void {
    this.leaseTakeovers.inc({ by });
  }

  countLeaseLost(): void {
    this.leaseLost.inc();
  }

  countCompleter(action: string): void {
    this.completerActions.inc({ action });
  }
}

import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The last ledger check, as /metrics exports it (ledger/ledger-check.repository.ts). */
export interface LedgerCheckExport {
  checkedAt: number | null;
  durationSeconds: number | null;
  violations: Partial<Record<string, number>>;
}

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
    help: 'Charge attempts by kind (wallet, card) and outcome (succeeded, authorized, or the problem code: insufficient_funds, card_declined, acquirer_unavailable, ...). A card charge counts once, when its key finishes (by the request, a retry or the completer).',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly chargeDuration = new Histogram({
    name: 'charge_duration_seconds',
    help: 'Time to execute a new wallet charge inside its transaction (replays excluded; card charges, which wait for the acquirer, are not in it).',
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

  private readonly databaseUnavailable = new Counter({
    name: 'database_unavailable_total',
    help: 'Requests answered 503 because the database could not do it right now, by the SQLSTATE the server gave (connection: no answer from it).',
    labelNames: ['sqlstate'] as const,
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

  /**
   * Set by the card charges' module: reads the unfinished keys by recovery point when /metrics is
   * scraped, through the partial index of the unfinished keys: the finished ones, which pile up
   * for IDEMPOTENCY_TTL_SECONDS, are never read (they are counted by charges_total as they finish).
   */
  cardKeyCensus: (() => Promise<{ byPoint: Record<string, number>; oldestUnfinishedSeconds: number }>) | undefined;
  /**
   * One census per scrape, shared by its two gauges: prom-client collects every metric of a scrape
   * at once, so a gauge set by another's collect would be exported a scrape late.
   */
  private cardCensusRead: Promise<{ byPoint: Record<string, number>; oldestUnfinishedSeconds: number } | undefined> | undefined;
  private readCardCensus() {
    this.cardCensusRead ??= (this.cardKeyCensus?.() ?? Promise.resolve(undefined))
      .catch(() => undefined)
      .finally(() => (this.cardCensusRead = undefined));
    return this.cardCensusRead;
  }

  private readonly cardKeys = new Gauge({
    name: 'card_charge_keys',
    help: 'Unfinished card charge keys by recovery point (started, acquirer_called). Finished ones are counted by charges_total{kind="card"} as they finish.',
    labelNames: ['recovery_point'] as const,
    registers: [this.registry],
    collect: async () => {
      const census = await this.readCardCensus();
      for (const [point, keys] of Object.entries(census?.byPoint ?? {})) this.cardKeys.set({ recovery_point: point }, keys);
    },
  });

  private readonly oldestUnfinished = new Gauge({
    name: 'card_charge_oldest_unfinished_key_age_seconds',
    help: 'Age of the oldest card charge key not yet finished (0 when none); read with card_charge_keys.',
    registers: [this.registry],
    collect: async () => {
      const census = await this.readCardCensus();
      if (census) this.oldestUnfinished.set(census.oldestUnfinishedSeconds);
    },
  });

  /** Set by the database module: the request path's pool (pg-pool's public counts). */
  poolUsage: (() => { total: number; idle: number; waiting: number; max: number }) | undefined;

  private readonly poolConnections = new Gauge({
    name: 'database_pool_connections',
    help: "Connections of the request path's pool by state: in_use, idle; and max, its bound.",
    labelNames: ['state'] as const,
    registers: [this.registry],
    collect: () => {
      const usage = this.poolUsage?.();
      if (!usage) return;
      this.poolConnections.set({ state: 'in_use' }, usage.total - usage.idle);
      this.poolConnections.set({ state: 'idle' }, usage.idle);
      this.poolConnections.set({ state: 'max' }, usage.max);
      this.poolWaiting.set(usage.waiting);
    },
  });

  private readonly poolWaiting = new Gauge({
    name: 'database_pool_waiting_requests',
    help: "Work waiting for a connection of the request path's pool (all connections in use); read with database_pool_connections.",
    registers: [this.registry],
  });

  /** Set by the idempotency module: seconds since the oldest expired, not yet purged record expired. */
  oldestExpiredKey: (() => Promise<number>) | undefined;

  private readonly purgeLag = new Gauge({
    name: 'idempotency_oldest_expired_key_age_seconds',
    help: "Seconds since the oldest expired idempotency record still in the database expired (0 when none): the purge's lag. Read from the expiry index when scraped.",
    registers: [this.registry],
    collect: async () => {
      const age = await this.oldestExpiredKey?.().catch(() => undefined);
      if (age !== undefined) this.purgeLag.set(age);
    },
  });

  private readonly purged = new Counter({
    name: 'idempotency_keys_purged_total',
    help: 'Expired idempotency records (keys and batch items) removed by the purge.',
    registers: [this.registry],
  });

  /** Set by the ledger module: the last ledger check of any instance (one row, read when scraped). */
  ledgerCheckResult: (() => Promise<LedgerCheckExport>) | undefined;
  /**
   * One read of that row per scrape, shared by its three gauges: prom-client collects every metric
   * of a scrape at once, so each gauge sets itself from the same read rather than one setting the
   * others (which would export them a scrape late).
   */
  private ledgerCheckRead: Promise<LedgerCheckExport | undefined> | undefined;
  private readLedgerCheck(): Promise<LedgerCheckExport | undefined> {
    this.ledgerCheckRead ??= (this.ledgerCheckResult?.() ?? Promise.resolve(undefined))
      .then((result) => (result === undefined || result.checkedAt === null ? undefined : result))
      .catch(() => undefined)
      .finally(() => (this.ledgerCheckRead = undefined));
    return this.ledgerCheckRead;
  }

  private readonly ledgerViolations = new Gauge({
    name: 'ledger_invariant_violations',
    help: 'Rows breaking each ledger invariant at the last ledger check (0: holds): unbalanced_currencies, balances_off_their_entries, negative_available, held_off_authorisations, balance_totals_off_the_ledger.',
    labelNames: ['invariant'] as const,
    registers: [this.registry],
    collect: async () => {
      const result = await this.readLedgerCheck();
      for (const [invariant, count] of Object.entries(result?.violations ?? {})) this.ledgerViolations.set({ invariant }, count ?? 0);
    },
  });

  private readonly ledgerCheckedAt = new Gauge({
    name: 'ledger_invariant_check_last_run_timestamp_seconds',
    help: 'When the last ledger check (of any instance) finished, Unix seconds (0: never).',
    registers: [this.registry],
    collect: async () => {
      const result = await this.readLedgerCheck();
      if (result?.checkedAt) this.ledgerCheckedAt.set(result.checkedAt);
    },
  });

  private readonly ledgerCheckDuration = new Gauge({
    name: 'ledger_invariant_check_duration_seconds',
    help: 'How long the last ledger check took.',
    registers: [this.registry],
    collect: async () => {
      const result = await this.readLedgerCheck();
      if (typeof result?.durationSeconds === 'number') this.ledgerCheckDuration.set(result.durationSeconds);
    },
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

  countDatabaseUnavailable(sqlState: string | undefined): void {
    this.databaseUnavailable.inc({ sqlstate: sqlState ?? 'connection' });
  }

  countPurged(records: number): void {
    this.purged.inc(records);
  }

  countRateLimitStoreError(): void {
    this.rateLimitStoreErrors.inc();
  }

  observeCharge(outcome: string, seconds: number): void {
    this.charges.inc({ kind: 'wallet', outcome });
    this.chargeDuration.observe(seconds);
  }

  countCardCharge(outcome: string): void {
    this.charges.inc({ kind: 'card', outcome });
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

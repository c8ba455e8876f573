import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { toEventDto } from '../events/events.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { retryDelayMs } from './retry-schedule.js';
import { type AttemptOutcome, type ClaimedDelivery, WebhookDeliveriesRepository } from './webhook-deliveries.repository.js';
import { signWebhook } from './webhook-signature.js';
import { answerTimeoutSignal } from '../common/answer-deadline.js';

/** What the claim's lease adds to the attempt's timeout: time to record the outcome. */
const LEASE_MARGIN_MS = 2_000;

/** What one run did: attempts by outcome. */
export interface DeliveryRun {
  claimed: number;
  delivered: number;
  failed: number;
  gone: number;
  lostClaim: number;
}

/** How an attempt ended on the wire, before the schedule decides what follows. */
type WireResult = { ok: true; status: number } | { ok: false; status: number | null; error: string };

/**
 * Sends due webhook deliveries (webhooks/, contract: Webhooks). Any number of workers may run, in
 * service instances (WEBHOOK_WORKER_ENABLED) or as processes of their own (npm run worker): each
 * claims rows with SKIP LOCKED under a lease, so a delivery is attempted by one worker at a time,
 * and by another only once the lease has lapsed (a worker that died). Each attempt is signed per
 * Standard Webhooks with the endpoint's secret (and the previous one during a roll), bounded by
 * WEBHOOK_TIMEOUT_MS, never follows a redirect, and counts 2xx only as delivered. No network call
 * happens inside a transaction: the claim and the outcome are one statement each.
 */
@Injectable()
export class DeliveryWorkerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DeliveryWorkerService.name);
  private loop: Promise<void> | undefined;
  private stopping = false;
  private readonly wake = new AbortController();

  constructor(
    private readonly deliveries: WebhookDeliveriesRepository,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    metrics.webhookCensus = () => deliveries.census();
  }

  onApplicationBootstrap(): void {
    if (this.config.webhookWorkerEnabled) this.loop = this.run();
  }

  /** Stops claiming, and waits for the attempts in hand to be sent and recorded. */
  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.wake.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const run = await this.runOnce().catch((error: unknown) => {
        this.logger.warn({ msg: 'webhook delivery run failed; the next one retries', err: String(error) });
        return undefined;
      });
      // A full batch: more may be due at once.
      if (run && run.claimed >= this.config.webhookConcurrency) continue;
      await sleep(this.config.webhookPollIntervalMs, undefined, { signal: this.wake.signal }).catch(() => undefined);
    }
  }

  /** One batch: claim up to WEBHOOK_CONCURRENCY due deliveries, send them all at once, record each outcome. */
  async runOnce(): Promise<DeliveryRun> {
    const leaseMs = this.config.webhookTimeoutMs + LEASE_MARGIN_MS;
    const claimed = await this.deliveries.claim(this.config.webhookConcurrency, leaseMs, `worker-${randomUUID()}`);
    const run: DeliveryRun = { claimed: claimed.length, delivered: 0, failed: 0, gone: 0, lostClaim: 0 };
    await Promise.all(
      claimed.map(async (delivery) => {
        const outcome = this.outcomeOf(delivery, await this.send(delivery));
        const recorded = await this.deliveries.record(delivery, outcome);
        const label = recorded.recorded ? outcome.kind : 'lost_claim';
        this.metrics.countWebhookDelivery(label);
        if (!recorded.recorded) run.lostClaim++;
        else if (outcome.kind === 'delivered') run.delivered++;
        else if (outcome.kind === 'gone') run.gone++;
        else run.failed++;
        if (recorded.endpointDisabled && outcome.kind !== 'delivered')
          this.logger.warn({ msg: 'webhook endpoint disabled', endpoint: delivery.endpointId, reason: outcome.kind });
      }),
    );
    return run;
  }

  private async send(delivery: ClaimedDelivery): Promise<WireResult> {
    const payload = JSON.stringify(toEventDto(delivery.event));
    const headers = signWebhook({ id: delivery.eventId, timestamp: new Date(), payload }, delivery.secrets);
    try {
      const response = await fetch(delivery.url, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'payments-webhooks/1' },
        body: payload,
        redirect: 'manual',
        signal: answerTimeoutSignal(this.config.webhookTimeoutMs),
      });
      // The answer's body is not ours to read: let the connection go.
      await response.body?.cancel().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
      const error = response.status >= 300 && response.status < 400 ? 'redirect_not_followed' : `http_${response.status}`;
      return { ok: false, status: response.status, error };
    } catch (error) {
      return { ok: false, status: null, error: wireError(error) };
    }
  }

  private outcomeOf(delivery: ClaimedDelivery, result: WireResult): AttemptOutcome {
    if (result.ok) return { kind: 'delivered', status: result.status };
    if (result.status === 410) return { kind: 'gone', status: 410 };
    const disableAfter = this.config.webhookDisableAfterSeconds;
    const delayMs = retryDelayMs(this.config.webhookRetryScheduleMs, delivery.attempt);
    if (delayMs === undefined) return { kind: 'give_up', status: result.status, error: result.error, disableAfterSeconds: disableAfter };
    return { kind: 'retry', status: result.status, error: result.error, delayMs, disableAfterSeconds: disableAfter };
  }
}

/**
 * A failed request by kind (the error's name and its cause's code, never its message). Read as
 * fields, not by instanceof: the timeout's DOMException need not come from this realm's Error.
 */
function wireError(error: unknown): string {
  const failure = (typeof error === 'object' && error !== null ? error : {}) as { name?: unknown; cause?: { code?: unknown } };
  if (failure.name === 'TimeoutError' || failure.name === 'AbortError') return 'timeout';
  return typeof failure.cause?.code === 'string' ? `network_${failure.cause.code}` : 'network';
}

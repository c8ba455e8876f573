import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service.js';
import { IdempotencyRepository } from './idempotency.repository.js';

const PURGE_EVERY_MS = 60_000;
const BATCH_SIZE = 1_000;
/** Batches per run: bounded, so one run never holds the database for long. */
const MAX_BATCHES_PER_RUN = 50;

/**
 * Removes expired idempotency keys in small batches (IDEMPOTENCY_TTL_SECONDS after they were
 * recorded). An expired key is already treated as new by the interceptor; the purge only reclaims
 * space, so a late or skipped run changes no answer.
 */
@Injectable()
export class IdempotencyPurgeService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(IdempotencyPurgeService.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly repository: IdempotencyRepository,
    private readonly metrics: MetricsService,
  ) {
    metrics.oldestExpiredKey = () => repository.oldestExpiredAgeSeconds();
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.purgeOnce(), PURGE_EVERY_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One run: batches until none is full or the run's bound is reached. Returns keys removed. */
  purgeOnce(): Promise<number> {
    this.running ??= this.purge().finally(() => (this.running = undefined));
    return this.running;
  }

  private async purge(): Promise<number> {
    let removed = 0;
    try {
      for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch++) {
        const count = await this.repository.purgeExpired(BATCH_SIZE);
        removed += count;
        this.metrics.countPurged(count);
        if (count < BATCH_SIZE) break;
      }
    } catch (error) {
      this.logger.warn({ msg: 'idempotency purge failed; will retry', err: String(error) });
    }
    if (removed > 0) this.logger.log({ msg: 'purged expired idempotency keys', removed });
    return removed;
  }
}

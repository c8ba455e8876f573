import { Injectable, Logger } from '@nestjs/common';
import { BatchedPurge } from '../common/batched-purge.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { IdempotencyRepository } from './idempotency.repository.js';

/**
 * Removes expired idempotency keys in small batches (IDEMPOTENCY_TTL_SECONDS after they were
 * recorded). An expired key is already treated as new by the interceptor; the purge only reclaims
 * space, so a late or skipped run changes no answer.
 */
@Injectable()
export class IdempotencyPurgeService extends BatchedPurge {
  constructor(
    private readonly repository: IdempotencyRepository,
    private readonly metrics: MetricsService,
  ) {
    super(new Logger(IdempotencyPurgeService.name), 'expired idempotency keys');
    metrics.oldestExpiredKey = () => repository.oldestExpiredAgeSeconds();
  }

  protected async removeBatch(size: number): Promise<number> {
    const count = await this.repository.purgeExpired(size);
    this.metrics.countPurged(count);
    return count;
  }
}

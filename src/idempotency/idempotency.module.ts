import { Module } from '@nestjs/common';
import { BatchItemsRepository } from './batch-items.repository.js';
import { IdempotencyPurgeService } from './idempotency-purge.service.js';
import { IdempotencyRepository } from './idempotency.repository.js';

/** The idempotency records; their interceptor is registered with the pipeline in app.module.ts. */
@Module({
  providers: [IdempotencyRepository, BatchItemsRepository, IdempotencyPurgeService],
  exports: [IdempotencyRepository, BatchItemsRepository, IdempotencyPurgeService],
})
export class IdempotencyModule {}

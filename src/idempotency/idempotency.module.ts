import { Module } from '@nestjs/common';
import { BatchItemsRepository } from './batch-items.repository.js';
import { IdempotencyPurgeService } from './idempotency-purge.service.js';
import { IdempotencyRepository } from './idempotency.repository.js';
import { PostgresIdempotencyStore } from './postgres-idempotency.store.js';

/** The idempotency records; their interceptor is registered with the pipeline in app.module.ts. */
@Module({
  providers: [IdempotencyRepository, PostgresIdempotencyStore, BatchItemsRepository, IdempotencyPurgeService],
  exports: [IdempotencyRepository, PostgresIdempotencyStore, BatchItemsRepository, IdempotencyPurgeService],
})
export class IdempotencyModule {}

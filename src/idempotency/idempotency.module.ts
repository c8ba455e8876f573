import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { BatchItemsRepository } from './batch-items.repository.js';
import { IdempotencyInterceptor } from './idempotency.interceptor.js';
import { IdempotencyPurgeService } from './idempotency-purge.service.js';
import { IdempotencyRepository } from './idempotency.repository.js';

@Module({
  providers: [
    IdempotencyRepository,
    BatchItemsRepository,
    IdempotencyPurgeService,
    // Global: every POST (and PUT) of every module goes through it, with no code in the handler.
    { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
  ],
  exports: [IdempotencyPurgeService],
})
export class IdempotencyModule {}

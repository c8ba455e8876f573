import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { AccountsModule } from './accounts/accounts.module.js';
import { ChargesModule } from './charges/charges.module.js';
import { ProblemDetailsFilter } from './common/problem-details.filter.js';
import { createValidationPipe } from './common/validation.js';
import { APP_CONFIG, type AppConfig } from './config/app-config.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { IdempotencyModule } from './idempotency/idempotency.module.js';
import { LedgerModule } from './ledger/ledger.module.js';
import { ApiKeyGuard } from './merchants/api-key.guard.js';
import { MerchantsModule } from './merchants/merchants.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { RateLimitGuard } from './rate-limit/rate-limit.guard.js';

@Module({})
export class AppModule {
  /** The whole application; main.ts and the e2e tests build exactly this. */
  static register(config: AppConfig, databaseUrl: string): DynamicModule {
    return {
      module: AppModule,
      global: true,
      imports: [
        DatabaseModule.forRoot(databaseUrl),
        MetricsModule,
        MerchantsModule,
        AccountsModule,
        LedgerModule,
        ChargesModule,
        IdempotencyModule,
        HealthModule,
      ],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        // The request pipeline, registered here so the tests run the real one:
        // guards (authentication, then rate limit) -> interceptor (idempotency + transaction)
        // -> pipe (validation) -> handler, and the filter turning every error into problem+json.
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_GUARD, useClass: RateLimitGuard },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: ProblemDetailsFilter },
      ],
      exports: [APP_CONFIG],
    };
  }
}

import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import { AccountsModule } from './accounts/accounts.module.js';
import { ChargesModule } from './charges/charges.module.js';
import { ProblemDetailsFilter } from './common/problem-details.filter.js';
import { createValidationPipe } from './common/validation.js';
import { APP_CONFIG, type AppConfig } from './config/app-config.js';
import { DatabaseModule } from './database/database.module.js';
import { TransactionInterceptor } from './database/transaction.interceptor.js';
import { EventsModule } from './events/events.module.js';
import { HealthModule } from './health/health.module.js';
import { IdempotencyInterceptor } from './idempotency/idempotency.interceptor.js';
import { IdempotencyModule } from './idempotency/idempotency.module.js';
import { LedgerModule } from './ledger/ledger.module.js';
import { ApiKeyGuard } from './api-keys/api-key.guard.js';
import { ApiKeysModule } from './api-keys/api-keys.module.js';
import { MerchantsModule } from './merchants/merchants.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { RateLimitGuard } from './rate-limit/rate-limit.guard.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';

@Module({})
export class AppModule {
  /** The whole application; main.ts and the e2e tests build exactly this. */
  static register(config: AppConfig, databaseUrl: string): DynamicModule {
    return {
      module: AppModule,
      global: true,
      imports: [
        DatabaseModule.forRoot(databaseUrl, {
          preparedStatements: config.preparedStatements,
          poolIdleSeconds: config.databasePoolIdleSeconds,
        }),
        MetricsModule,
        MerchantsModule,
        ApiKeysModule,
        AccountsModule,
        LedgerModule,
        ChargesModule,
        IdempotencyModule,
        EventsModule,
        WebhooksModule,
        HealthModule,
      ],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        // The request pipeline, all of it here, in the order a request meets it:
        //   guards: authentication, then rate limit (a 429 is never recorded against a key)
        //   -> interceptors: idempotency, and the request's one transaction (every POST and keyed PUT);
        //      the transaction of a PUT without a key
        //   -> pipe: validation (inside the transaction, so a 400 rolls back and is not recorded)
        //   -> handler; and the filter turning every error into problem+json.
        // Registered as APP_* providers, so the e2e tests run exactly this pipeline.
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_GUARD, useClass: RateLimitGuard },
        { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
        { provide: APP_INTERCEPTOR, useClass: TransactionInterceptor },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: ProblemDetailsFilter },
      ],
      exports: [APP_CONFIG],
    };
  }
}

import { CanActivate, ExecutionContext, Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { PUBLIC_ROUTE } from '../common/auth.decorators.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { RateLimitedError } from './rate-limit.errors.js';
import { RedisTokenBuckets } from './redis-token-bucket.js';
import { TokenBuckets } from './token-bucket.js';

/** At most one log line about the rate-limit store this often (a Redis outage fails every request). */
const STORE_ERROR_LOG_EVERY_MS = 10_000;

/**
 * RATE_LIMIT_PER_SECOND per API key (0: off), checked after authentication and before the
 * idempotency interceptor, so a 429 is never recorded against the key.
 *
 * With REDIS_URL the buckets live in Redis and hold across every instance of the fleet; without
 * it they live in this process, and with N instances a key may get up to N times the rate. When
 * Redis cannot answer, the request goes through (fail open: a payment is never refused because
 * the limiter's store is down), counted in rate_limit_store_errors_total and logged.
 */
@Injectable()
export class RateLimitGuard implements CanActivate, OnApplicationShutdown {
  private readonly logger = new Logger('RateLimit');
  private readonly local: TokenBuckets | undefined;
  private readonly shared: RedisTokenBuckets | undefined;
  private lastStoreErrorLog = 0;
  private storeErrorsSinceLog = 0;

  constructor(
    private readonly reflector: Reflector,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    if (config.rateLimitPerSecond === 0) return;
    if (config.redisUrl) {
      this.shared = new RedisTokenBuckets(config.redisUrl, config.rateLimitPerSecond, `${config.redisKeyPrefix}:rate`, (error) =>
        this.storeFailed(error),
      );
    } else {
      this.local = new TokenBuckets(config.rateLimitPerSecond);
    }
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (!this.local && !this.shared) return true;
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()])) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const caller = request.apiKeyId ?? 'admin';
    const wait = this.local ? this.local.take(caller, Date.now()) : await this.takeShared(caller);
    if (wait > 0) throw new RateLimitedError(wait);
    return true;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.shared?.close();
  }

  private async takeShared(caller: string): Promise<number> {
    try {
      return await this.shared!.take(caller);
    } catch (error) {
      this.metrics.countRateLimitStoreError();
      this.storeFailed(error);
      return 0;
    }
  }

  private storeFailed(error: unknown): void {
    this.storeErrorsSinceLog++;
    const now = Date.now();
    if (now - this.lastStoreErrorLog < STORE_ERROR_LOG_EVERY_MS) return;
    this.logger.warn({
      msg: 'rate-limit store unavailable: requests pass unlimited until it answers',
      errors: this.storeErrorsSinceLog,
      error: error instanceof Error ? error.message : String(error),
    });
    this.lastStoreErrorLog = now;
    this.storeErrorsSinceLog = 0;
  }
}

import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { PUBLIC_ROUTE } from '../common/auth.decorators.js';
import { RateLimitedError } from './rate-limit.errors.js';
import { TokenBuckets } from './token-bucket.js';

/**
 * RATE_LIMIT_PER_SECOND per API key (0: off), checked after authentication and before the
 * idempotency interceptor, so a 429 is never recorded against the key. The buckets live in this
 * process: with N instances, a key may get up to N times the rate.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly buckets: TokenBuckets | undefined;

  constructor(
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.buckets = config.rateLimitPerSecond > 0 ? new TokenBuckets(config.rateLimitPerSecond) : undefined;
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.buckets) return true;
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()])) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const caller = request.apiKeyId ?? 'admin';
    const wait = this.buckets.take(caller, Date.now());
    if (wait > 0) throw new RateLimitedError(wait);
    return true;
  }
}

import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { UnauthenticatedError } from '../common/domain-error.js';
import { bearerToken, hashApiKey, merchantIdOfApiKey, sameSecret } from './api-key.js';
import { ADMIN_ROUTE, PUBLIC_ROUTE } from '../common/auth.decorators.js';
import { MerchantsRepository } from './merchants.repository.js';

const CACHE_TTL_MS = 60_000;
const CACHE_MAX_ENTRIES = 10_000;

/**
 * Authenticates every route (registered as APP_GUARD): a merchant's API key by default, the admin
 * token where @AdminOnly(), nothing where @Public(). Known keys are cached briefly so the charge
 * path spends no round trip on authentication.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly knownKeys = new Map<string, { merchantId: string; until: number }>();

  constructor(
    private readonly reflector: Reflector,
    private readonly merchants: MerchantsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;

    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const token = bearerToken(request.headers.authorization);
    if (!token) throw new UnauthenticatedError();

    if (this.reflector.getAllAndOverride<boolean>(ADMIN_ROUTE, targets)) {
      if (!sameSecret(token, this.config.adminToken)) throw new UnauthenticatedError('This route needs the admin token.');
      return true;
    }
    const hash = hashApiKey(token);
    request.merchantId = await this.merchantOf(token, hash);
    request.apiKeyId = hash;
    return true;
  }

  private async merchantOf(apiKey: string, hash: string): Promise<string> {
    const merchantId = merchantIdOfApiKey(apiKey);
    if (!merchantId) throw new UnauthenticatedError();
    const cached = this.knownKeys.get(hash);
    if (cached && cached.until > Date.now()) return cached.merchantId;

    if (!(await this.merchants.apiKeyExists(merchantId, hash))) throw new UnauthenticatedError();
    if (this.knownKeys.size >= CACHE_MAX_ENTRIES) this.knownKeys.clear();
    this.knownKeys.set(hash, { merchantId, until: Date.now() + CACHE_TTL_MS });
    return merchantId;
  }
}

import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { UnauthenticatedError } from '../common/domain-error.js';
import { bearerToken, sameSecret } from './api-key.js';
import { ADMIN_ROUTE, PUBLIC_ROUTE } from '../common/auth.decorators.js';
import { InsufficientScopeError } from './api-keys.errors.js';
import { KnownKeysService } from './known-keys.service.js';
import { allows, REQUIRED_SCOPE, type Scope } from './scopes.js';

/**
 * Authenticates every route (registered as APP_GUARD): a merchant's API key by default, the admin
 * token where @AdminOnly(), nothing where @Public(); and checks a restricted key's scopes against
 * the route's @RequiresScope(). Known keys are remembered briefly (KnownKeysService), so the
 * charge path spends no round trip on authentication.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: KnownKeysService,
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
    const key = await this.keys.identify(token);
    if (!key) throw new UnauthenticatedError();
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(REQUIRED_SCOPE, targets);
    if (!allows(key.scopes, scope)) throw new InsufficientScopeError(scope);
    request.merchantId = key.merchantId;
    request.apiKeyId = key.keyId;
    return true;
  }
}

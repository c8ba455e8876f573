import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

export const PUBLIC_ROUTE = 'auth:public';
export const ADMIN_ROUTE = 'auth:admin';

/** No authentication (health, metrics, API docs). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/** Authenticated with ADMIN_TOKEN instead of a merchant's API key. */
export const AdminOnly = () => SetMetadata(ADMIN_ROUTE, true);

/** The authenticated merchant's id. */
export const MerchantId = createParamDecorator((_: unknown, context: ExecutionContext): string => {
  const merchantId = context.switchToHttp().getRequest<FastifyRequest>().merchantId;
  if (!merchantId) throw new Error('@MerchantId() used on a route without merchant authentication');
  return merchantId;
});

import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { EntityManager } from 'typeorm';

export const SHOWN_ONCE = 'idempotency:shown-once';

/**
 * Response fields that are shown on the first response only and recorded as null (a new API key:
 * it is stored only as a hash, so a replay cannot show it again).
 */
export const ShownOnce = (...fields: string[]) => SetMetadata(SHOWN_ONCE, fields);

/**
 * The request's transaction (opened by the idempotency interceptor for every POST and PUT).
 * Handlers pass it explicitly down to every repository write.
 */
export const Tx = createParamDecorator((_: unknown, context: ExecutionContext): EntityManager => {
  const manager = context.switchToHttp().getRequest<FastifyRequest>().transactionManager;
  if (!manager) throw new Error('@Tx() is only available in POST and PUT handlers');
  return manager;
});

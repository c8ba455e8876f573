import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { EntityManager } from 'typeorm';

/**
 * The request's transaction (opened by the idempotency interceptor for every POST and PUT, through runTransaction).
 * Handlers pass it explicitly down to every repository write.
 */
export const Tx = createParamDecorator((_: unknown, context: ExecutionContext): EntityManager => {
  const manager = context.switchToHttp().getRequest<FastifyRequest>().transactionManager;
  if (!manager) throw new Error('@Tx() is only available in POST and PUT handlers');
  return manager;
});

import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { SqlTransaction } from './sql.js';

/**
 * The request's transaction: opened by the idempotency interceptor for every keyed POST and PUT,
 * and by the transaction interceptor for a PUT without a key and a DELETE. Handlers pass it explicitly down to
 * every repository write.
 */
export const Tx = createParamDecorator((_: unknown, context: ExecutionContext): SqlTransaction => {
  const tx = context.switchToHttp().getRequest<FastifyRequest>().transaction;
  if (!tx) throw new Error('@Tx() is only available in POST, PUT and DELETE handlers');
  return tx;
});

/** The request's transaction when it has one: a route some of whose requests run in phases (@PhasedWhen). */
export const MaybeTx = createParamDecorator(
  (_: unknown, context: ExecutionContext): SqlTransaction | undefined => context.switchToHttp().getRequest<FastifyRequest>().transaction,
);

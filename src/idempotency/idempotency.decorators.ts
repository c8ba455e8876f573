import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { ItemRunner } from './item-runner.js';

export const SHOWN_ONCE = 'idempotency:shown-once';

/**
 * Response fields that are shown on the first response only and recorded as null (a new API key:
 * it is stored only as a hash, so a replay cannot show it again).
 */
export const ShownOnce = (...fields: string[]) => SetMetadata(SHOWN_ONCE, fields);

export const PER_ITEM = 'idempotency:per-item';

/**
 * A route whose items each commit on their own (POST /v1/charges/batch): the interceptor opens no
 * transaction around the handler, which runs every item through the request's ItemRunner (@Items());
 * the whole response is recorded once it is complete.
 */
export const IdempotentPerItem = () => SetMetadata(PER_ITEM, true);

/** The ItemRunner of a @IdempotentPerItem() handler: the one way to run an item. */
export const Items = createParamDecorator((_: unknown, context: ExecutionContext): ItemRunner => {
  const runner = context.switchToHttp().getRequest<FastifyRequest>().itemRunner;
  if (!runner) throw new Error('@Items() is only available in @IdempotentPerItem() handlers');
  return runner;
});

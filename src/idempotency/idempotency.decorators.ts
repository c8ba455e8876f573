import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { ItemRunner } from './item-runner.js';
import type { KeyedCall, RecordedResponse } from './idempotency.repository.js';

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

export const PHASED = 'idempotency:phased';

/**
 * A route whose requests matching `when(body)` run in phases of their own (a card charge, see
 * card-charges/): the interceptor opens no transaction and records nothing; it hands the handler
 * the request's key (@KeyedCallOf()) and writes the answer the handler returns (PhasedAnswer).
 */
export const PhasedWhen = (when: (body: unknown) => boolean) => SetMetadata(PHASED, when);

/** The key, fingerprint and merchant of a request the interceptor handed to its handler (@PhasedWhen). */
export const KeyedCallOf = createParamDecorator((_: unknown, context: ExecutionContext): KeyedCall | undefined => {
  return context.switchToHttp().getRequest<FastifyRequest>().keyedCall;
});

/** What a @PhasedWhen handler returns for the interceptor to write. */
export interface PhasedAnswer {
  phased: true;
  response: RecordedResponse;
  replayed: boolean;
  /** Recorded answers only. */
  expiresAt: Date | undefined;
}

export function isPhasedAnswer(value: unknown): value is PhasedAnswer {
  return typeof value === 'object' && value !== null && (value as { phased?: unknown }).phased === true;
}

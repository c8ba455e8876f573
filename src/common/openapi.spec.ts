import type { FastifyRequest } from 'fastify';
import { CurrencyImmutableError, PreconditionFailedError, PreconditionRequiredError } from '../accounts/accounts.errors.js';
import { CurrencyMismatchError, InsufficientFundsError, InvalidStateError } from '../charges/charges.errors.js';
import {
  IdempotencyKeyInvalidError,
  IdempotencyKeyMissingError,
  IdempotencyKeyReusedError,
  IdempotencyRequestInProgressError,
} from '../idempotency/idempotency.errors.js';
import { BalanceLimitExceededError } from '../ledger/ledger.errors.js';
import { AcquirerUnavailableError, CardDeclinedError } from '../card-charges/card-charges.errors.js';
import { RateLimitedError } from '../rate-limit/rate-limit.errors.js';
import { WebhookUrlNotAllowedError } from '../webhooks/webhooks.errors.js';
import { InsufficientScopeError, LastManagingKeyError } from '../api-keys/api-keys.errors.js';
import {
  DomainError,
  NotFoundError,
  PayloadTooLargeError,
  RouteNotFoundError,
  UnauthenticatedError,
  UnavailableError,
  UnsupportedMediaTypeError,
  ValidationFailedError,
} from './domain-error.js';
import { exampleProblem, PROBLEM_CODES, problemHeaders, RECORDABLE_CODES, type ProblemCode } from './openapi.js';
import { toDomainError } from './problem-details.filter.js';

// The document's problem catalogue describes the errors the service really throws: the same code,
// status, title and headers, and `recorded` where the error is recorded against the key.

const internalError = toDomainError(new Error('boom'), { id: 'req-1', method: 'GET', url: '/', headers: {} } as FastifyRequest);

const ERRORS: DomainError[] = [
  new ValidationFailedError([]),
  new IdempotencyKeyMissingError(),
  new IdempotencyKeyInvalidError(),
  new UnauthenticatedError(),
  new InsufficientScopeError('charges:write'),
  new LastManagingKeyError('key_1'),
  new InsufficientFundsError(300, 'usd'),
  new NotFoundError('charge', 'ch_1'),
  new RouteNotFoundError('GET', '/nope'),
  new IdempotencyRequestInProgressError(1),
  new InvalidStateError('no'),
  new PreconditionFailedError(3),
  new PayloadTooLargeError(102400),
  new UnsupportedMediaTypeError('text/plain'),
  new IdempotencyKeyReusedError(),
  new CurrencyMismatchError('eur', 'usd'),
  new CurrencyImmutableError('usd'),
  new BalanceLimitExceededError(),
  new PreconditionRequiredError(3),
  new RateLimitedError(1),
  internalError,
  new UnavailableError(),
  new CardDeclinedError('insufficient_funds'),
  new AcquirerUnavailableError(5),
  new WebhookUrlNotAllowedError("A webhook endpoint must be an https:// URL; got 'http://shop.example/'."),
];

describe('the OpenAPI problem catalogue', () => {
  it('has every code the service answers with, and only those', () => {
    expect(new Set(ERRORS.map((error) => error.code))).toEqual(new Set(PROBLEM_CODES));
  });

  it.each(ERRORS.map((error) => [error.name, error] as const))('%s: same status, title and headers as documented', (_name, error) => {
    const code = error.code as ProblemCode;
    const documented = exampleProblem(code);
    expect({ status: error.status, title: error.title }).toEqual({ status: documented.status, title: documented.title });
    expect(Object.keys(error.headers).sort()).toEqual(problemHeaders(code).sort());
  });

  it('documents as recordable exactly the codes of the errors that are recorded', () => {
    const recordedCodes = new Set(ERRORS.filter((error) => error.recorded).map((error) => error.code));
    expect(recordedCodes).toEqual(new Set(RECORDABLE_CODES));
  });
});

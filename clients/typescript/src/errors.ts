import type { FieldError, Problem, ProblemCode } from './models.js';

/** What every error of this client carries. */
export interface CallContext {
  /** The Idempotency-Key of the operation (writes only): retrying with it never repeats the effect. */
  idempotencyKey: string | undefined;
  /** Requests sent for this call, retries included. */
  attempts: number;
  /** The trace id every attempt of the call carried (traceparent), to find the service's spans. */
  traceId: string;
}

/** The base of every error this client throws. */
export class PaymentsError extends Error {
  readonly idempotencyKey: string | undefined;
  readonly attempts: number;
  readonly traceId: string;

  constructor(message: string, context: CallContext, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.idempotencyKey = context.idempotencyKey;
    this.attempts = context.attempts;
    this.traceId = context.traceId;
  }
}

/**
 * The service answered with an RFC 9457 problem (application/problem+json) that is final for this
 * request: a business answer (402 insufficient_funds, 409 invalid_state, ...) or a request to fix
 * (400, 401, 404, ...). `code` is the problem's stable code; undefined when something other than
 * the service (a proxy) answered without one.
 */
export class ProblemError extends PaymentsError {
  readonly status: number;
  readonly code: ProblemCode | undefined;
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  /** Which fields failed validation (400 validation_failed). */
  readonly errors: FieldError[];
  /** The Retry-After of the answer in milliseconds, when it had one. */
  readonly retryAfterMs: number | undefined;
  /** X-Request-Id of the answer, to quote to the service's operators. */
  readonly requestId: string | undefined;
  /** A recorded answer (402, 409 invalid_state, ...) replayed for the key: the same key will always get it. */
  readonly replayed: boolean;
  /** Until when the key keeps this recorded answer (Idempotency-Expires). */
  readonly expiresAt: Date | undefined;

  constructor(problem: Problem | UnknownProblem, answer: AnswerContext, context: CallContext, message?: string) {
    super(message ?? `${problem.status} ${problem.code ?? 'error'}: ${problem.detail || problem.title}`, context);
    this.status = problem.status;
    this.code = problem.code;
    this.type = problem.type;
    this.title = problem.title;
    this.detail = problem.detail;
    this.errors = problem.errors ?? [];
    this.retryAfterMs = answer.retryAfterMs;
    this.requestId = answer.requestId;
    this.replayed = answer.replayed;
    this.expiresAt = answer.expiresAt;
  }
}

/** A problem-shaped description of an answer that was not problem+json (a proxy's HTML page, say). */
export interface UnknownProblem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: undefined;
  errors?: undefined;
}

export interface AnswerContext {
  retryAfterMs: number | undefined;
  requestId: string | undefined;
  replayed: boolean;
  expiresAt: Date | undefined;
}

/**
 * 422 idempotency_key_reused: the key was already used for a different request (another amount,
 * source, path...). Never retried, and never "fixed" by a fresh key on its own: a new key is a new
 * payment. Either send the original request again with this key, or, if a second payment really is
 * intended, give that one its own new key.
 */
export class IdempotencyKeyReusedError extends ProblemError {
  constructor(problem: Problem, answer: AnswerContext, context: CallContext) {
    super(
      problem,
      answer,
      context,
      `Idempotency-Key ${context.idempotencyKey ?? ''} was already used for a different request, so this one was refused. ` +
        'Do not retry it with a new key: a new key would mean a new payment. Send the original request with this key, ' +
        'or use a new key only if a second, separate payment is intended.',
    );
  }
}

/** No answer: the connection was refused or cut, or the answer was lost on the way. The request may have taken effect. */
export class NetworkError extends PaymentsError {
  constructor(cause: unknown, context: CallContext) {
    super(`No answer from the service: ${cause instanceof Error ? cause.message : String(cause)}`, context, { cause });
  }
}

/** No answer within the attempt's timeout. The request may have taken effect. */
export class TimeoutError extends PaymentsError {
  constructor(timeoutMs: number, context: CallContext) {
    super(`No answer within ${timeoutMs} ms`, context);
  }
}

/** An answer that says "not decided yet", or none at all: what a retry can settle. */
export type UndecidedError = NetworkError | TimeoutError | ProblemError;

/**
 * Every attempt the budget allowed ended without a decided answer (network errors, timeouts, 409
 * in progress, 429, 503). For a write the outcome is unknown: it may have taken effect. Retry later
 * with the same `idempotencyKey` to learn it; the service then answers the recorded outcome, or
 * runs the operation once.
 */
export class RetriesExhaustedError extends PaymentsError {
  readonly lastError: UndecidedError;

  constructor(lastError: UndecidedError, why: string, context: CallContext) {
    super(
      `No decided answer after ${context.attempts} attempt(s): ${why} (last: ${lastError.message}).` +
        (context.idempotencyKey === undefined
          ? ''
          : ` The operation may have taken effect: retry it with the same idempotency key (${context.idempotencyKey}) to learn its outcome.`),
      context,
      { cause: lastError },
    );
    this.lastError = lastError;
  }
}

/**
 * The caller's AbortSignal fired. For a write the outcome is unknown, as for a timeout: retry with
 * the same `idempotencyKey` to learn it. Named AbortError, as code that checks `error.name` expects.
 */
export class RequestAbortedError extends PaymentsError {
  constructor(reason: unknown, context: CallContext) {
    super('The call was aborted by its signal', context, { cause: reason });
    this.name = 'AbortError';
  }
}

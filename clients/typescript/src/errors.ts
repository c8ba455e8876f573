import type { Charge, FieldError, Problem, ProblemCode } from './models.js';

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
 * The service answered with its own RFC 9457 problem (application/problem+json). Thrown, it is
 * final for this request: a business answer (402 insufficient_funds, 409 invalid_state, ...) or a
 * request to fix (400, 401, 404, ...), with a code the contract lists as decided. The undecided
 * problems (409 in progress, 429, 500, 503) are retried and, when retries run out, are the
 * `lastError` of an OutcomeUnknownError: a ProblemError is never thrown for them.
 */
export class ProblemError extends PaymentsError {
  readonly status: number;
  readonly code: ProblemCode;
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  /** Which fields failed validation (400 validation_failed). */
  readonly errors: FieldError[];
  /** 402 card_declined: the acquirer's reason (`insufficient_funds`, `do_not_honor`, ...). */
  readonly declineCode: string | undefined;
  /** The Retry-After of the answer in milliseconds, when it had one. */
  readonly retryAfterMs: number | undefined;
  /** X-Request-Id of the answer, to quote to the service's operators. */
  readonly requestId: string | undefined;
  /** A recorded answer (402, 409 invalid_state, ...) replayed for the key: the same key will always get it. */
  readonly replayed: boolean;
  /** Until when the key keeps this recorded answer (Idempotency-Expires). */
  readonly expiresAt: Date | undefined;

  constructor(problem: Problem, answer: AnswerContext, context: CallContext, message?: string) {
    super(message ?? `${problem.status} ${problem.code}: ${problem.detail || problem.title}`, context);
    this.status = problem.status;
    this.code = problem.code;
    this.type = problem.type;
    this.title = problem.title;
    this.detail = problem.detail;
    this.errors = problem.errors ?? [];
    this.declineCode = problem.decline_code;
    this.retryAfterMs = answer.retryAfterMs;
    this.requestId = answer.requestId;
    this.replayed = answer.replayed;
    this.expiresAt = answer.expiresAt;
  }
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

/**
 * An answer that is not the service's own: a gateway's 502 page, a 504 with `{"message": ...}`, an
 * empty 500, a 2xx whose body does not parse. Nothing in it decides the request, which may have
 * taken effect behind the gateway: it is retried with the same key.
 */
export class UnexpectedAnswerError extends PaymentsError {
  /** The HTTP status, or undefined when a 2xx body could not be read at all. */
  readonly status: number | undefined;
  readonly contentType: string | undefined;
  /** The start of the body, for the logs. */
  readonly bodyExcerpt: string;
  readonly retryAfterMs: number | undefined;
  readonly requestId: string | undefined;

  constructor(
    answer: { status: number | undefined; contentType: string | undefined; bodyExcerpt: string; why: string },
    context: CallContext,
    extra: Partial<Pick<AnswerContext, 'retryAfterMs' | 'requestId'>> = {},
  ) {
    super(`${answer.status === undefined ? 'An answer' : `HTTP ${answer.status}`} that decides nothing: ${answer.why}`, context);
    this.status = answer.status;
    this.contentType = answer.contentType;
    this.bodyExcerpt = answer.bodyExcerpt;
    this.retryAfterMs = extra.retryAfterMs;
    this.requestId = extra.requestId;
  }
}

/** An answer that says "not decided yet", or none at all: what a retry can settle. */
export type UndecidedError = NetworkError | TimeoutError | ProblemError | UnexpectedAnswerError;

/**
 * The call ended without a decided answer. For a write the outcome is UNKNOWN: the operation may
 * have taken effect. Ask again later with the same `idempotencyKey` (always set for a write): the
 * service then answers the recorded outcome, or runs the operation once. Never report such a write
 * as failed, and never retry it under a new key. `lastError` is the last undecided answer, if any
 * attempt was sent (`attempts` > 0).
 */
export class OutcomeUnknownError extends PaymentsError {
  readonly outcomeUnknown = true;
  readonly lastError: UndecidedError | undefined;

  constructor(why: string, lastError: UndecidedError | undefined, context: CallContext) {
    super(
      (context.attempts === 0 ? `Nothing was sent: ${why}.` : `No decided answer after ${context.attempts} attempt(s): ${why}`) +
        (lastError === undefined ? '' : ` (last: ${lastError.message})`) +
        (context.idempotencyKey === undefined
          ? ''
          : context.attempts === 0
            ? ` Send it again later with the same idempotency key (${context.idempotencyKey}).`
            : ` The outcome is unknown: the operation may have taken effect. Ask again with the same idempotency key (${context.idempotencyKey}) to learn it.`),
      context,
      { cause: lastError },
    );
    this.lastError = lastError;
  }
}

/**
 * Every attempt the policy allowed (maxAttempts, totalTimeoutMs) ended undecided: network errors,
 * timeouts, 5xx, 429, 409 in progress, answers that are not the service's.
 */
export class RetriesExhaustedError extends OutcomeUnknownError {
  declare readonly lastError: UndecidedError;

  constructor(lastError: UndecidedError, why: string, context: CallContext) {
    super(why, lastError, context);
  }
}

/** The client's retry budget (a token bucket shared by all its calls) is empty: no retry was sent, so an outage is not multiplied. */
export class RetryBudgetExhaustedError extends OutcomeUnknownError {
  declare readonly lastError: UndecidedError;

  constructor(lastError: UndecidedError, context: CallContext) {
    super("the client's retry budget is spent (too many retries lately), so no retry was sent", lastError, context);
  }
}

/**
 * The circuit is open: many answers in a row were undecided, so the client sends nothing until
 * `retryAt`, when one probe may go. With `attempts` 0 this call sent nothing at all.
 */
export class CircuitOpenError extends OutcomeUnknownError {
  readonly retryAt: Date;

  constructor(retryAt: Date, lastError: UndecidedError | undefined, context: CallContext) {
    super(
      `the circuit is open after repeated undecided answers; the next probe is allowed at ${retryAt.toISOString()}`,
      lastError,
      context,
    );
    this.retryAt = retryAt;
  }
}

/**
 * A card charge its acquirer has not decided yet: the service answered 202 with the charge
 * `pending`, and still did when the call's `pendingWaitMs` ran out. The charge exists and will end
 * `succeeded` or `failed`; the money may move. Repeat the call with the same `idempotencyKey` after
 * `retryAfterMs` (a repeat also pushes the charge on), or poll `getCharge(charge.id)`. Never report
 * it as failed, and never pay again under a new key.
 */
export class ChargePendingError extends OutcomeUnknownError {
  /** The pending charge, as the last answer showed it. */
  readonly charge: Charge;
  /** The last answer's Retry-After, in milliseconds. */
  readonly retryAfterMs: number;

  constructor(charge: Charge, retryAfterMs: number, context: CallContext) {
    super(`the charge ${charge.id} is still pending at the card acquirer`, undefined, context);
    this.charge = charge;
    this.retryAfterMs = retryAfterMs;
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

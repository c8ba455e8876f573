import type { ProblemCode } from './models.js';

/** A source of random numbers in [0, 1), like Math.random. Inject a seeded one for reproducible tests. */
export type RandomSource = () => number;

/** How hard one call tries before it gives up. */
export interface RetryPolicy {
  /** Attempts in all, the first one included: 1 means no retries. An integer, at least 1. */
  maxAttempts: number;
  /** Time budget of the whole call, waits included: no retry is waited for past it. */
  totalTimeoutMs: number;
  /** The first retry waits about this long; each further one about twice as long as the one before. */
  baseDelayMs: number;
  /** No backoff waits longer than this (a Retry-After may ask for more). */
  maxDelayMs: number;
  /** No retry waits less than this, whatever the jitter drew: the floor that keeps a tight loop from hammering the service. */
  minDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 6,
  totalTimeoutMs: 60_000,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
  minDelayMs: 100,
});

/**
 * The retry quota one client instance shares among all its calls (the AWS SDKs' standard retry
 * mode): a retry takes `retryCost` tokens (`timeoutCost` after a timeout, which held a connection
 * for its whole length), a first attempt that succeeds puts back `successRefund`, a retry that
 * succeeds puts back what it took. An empty bucket means no retry: the call ends at once with the
 * outcome unknown. An outage thus costs the service at most capacity / retryCost extra requests
 * per client before the client stops multiplying its load.
 */
export interface RetryBudgetPolicy {
  capacity: number;
  retryCost: number;
  timeoutCost: number;
  successRefund: number;
}

export const DEFAULT_RETRY_BUDGET: Readonly<RetryBudgetPolicy> = Object.freeze({
  capacity: 500,
  retryCost: 5,
  timeoutCost: 10,
  successRefund: 1,
});

/**
 * After `failureThreshold` undecided answers in a row (network errors, timeouts, 5xx, 429, answers
 * that are not the service's), the circuit opens: calls fail at once, without sending, for
 * `coolDownMs`; then one probe goes through, and its answer closes the circuit or opens it again.
 */
export interface CircuitBreakerPolicy {
  failureThreshold: number;
  coolDownMs: number;
}

export const DEFAULT_CIRCUIT_BREAKER: Readonly<CircuitBreakerPolicy> = Object.freeze({
  failureThreshold: 10,
  coolDownMs: 5_000,
});

/** Refuses options that make no sense, at the call that gives them, before anything is sent. */
export function validateRetryPolicy(policy: Partial<RetryPolicy>, where = 'retry'): void {
  checkNumbers(policy, where, { maxAttempts: 1, totalTimeoutMs: 1, baseDelayMs: 0, maxDelayMs: 0, minDelayMs: 0 });
  if (policy.maxAttempts !== undefined && !Number.isInteger(policy.maxAttempts)) {
    throw new RangeError(`${where}.maxAttempts must be a whole number of attempts, got ${policy.maxAttempts}`);
  }
}

export function validateRetryBudget(budget: Partial<RetryBudgetPolicy>, where = 'retryBudget'): void {
  checkNumbers(budget, where, { capacity: 0, retryCost: 0, timeoutCost: 0, successRefund: 0 });
}

export function validateCircuitBreaker(breaker: Partial<CircuitBreakerPolicy>, where = 'circuitBreaker'): void {
  checkNumbers(breaker, where, { failureThreshold: 1, coolDownMs: 0 });
}

/**
 * Every given field must be a finite number at or above its minimum. A field present but
 * undefined is refused too: `{ baseDelayMs: undefined }` would otherwise spread over the default
 * and make every wait NaN.
 */
function checkNumbers(options: object, where: string, minimums: Record<string, number>): void {
  if (typeof options !== 'object' || options === null) throw new TypeError(`${where} must be an object`);
  for (const [name, value] of Object.entries(options)) {
    const minimum = minimums[name];
    if (minimum === undefined) throw new TypeError(`${where}.${name} is not an option (${Object.keys(minimums).join(', ')})`);
    if (typeof value !== 'number')
      throw new TypeError(`${where}.${name} must be a number, got ${value === undefined ? 'undefined' : typeof value}`);
    if (!Number.isFinite(value) || value < minimum)
      throw new RangeError(`${where}.${name} must be a finite number ≥ ${minimum}, got ${value}`);
  }
}

/**
 * The wait before retry number `retry` (1 for the first retry): exponential backoff with jitter
 * over the upper half of the step, a random time in [ceiling / 2, ceiling) where ceiling =
 * min(maxDelayMs, baseDelayMs * 2^(retry-1)), and never below minDelayMs. The jitter spreads the
 * retries of many clients that failed together; the floor keeps any one of them from coming back
 * at once (with the defaults, six attempts span at least 3.1 s).
 */
export function backoffDelayMs(
  retry: number,
  policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'> & Partial<Pick<RetryPolicy, 'minDelayMs'>>,
  random: RandomSource,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  const jittered = Math.floor(ceiling / 2 + random() * (ceiling / 2));
  return Math.max(jittered, Math.min(policy.minDelayMs ?? 0, policy.maxDelayMs));
}

/**
 * The wait before a retry: the backoff, but never less than the server's Retry-After, which says
 * when it expects to be able to answer.
 */
export function retryDelayMs(
  retry: number,
  retryAfterMs: number | undefined,
  policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'> & Partial<Pick<RetryPolicy, 'minDelayMs'>>,
  random: RandomSource,
): number {
  return Math.max(backoffDelayMs(retry, policy, random), retryAfterMs ?? 0);
}

/** Retry-After in milliseconds from now: delay-seconds or an HTTP-date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = parseHttpDate(text);
  return date === undefined ? undefined : Math.max(0, date - nowMs);
}

/**
 * An HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`, or one of the two obsolete forms) in epoch
 * milliseconds. Date.parse alone would also take "-5" or "1.5" as dates.
 */
export function parseHttpDate(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || !/^[A-Za-z]{3}\b.*\d{2}:\d{2}:\d{2}/.test(value.trim())) return undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : date;
}

/**
 * The problem codes that decide a request, each with the one status the contract gives it
 * (docs/API.md, Errors). Only the service's own problem+json carrying one of these, with its status,
 * is final. The other codes (idempotency_request_in_progress, rate_limited, internal_error,
 * unavailable) say "not decided yet".
 */
export const DECIDED_PROBLEMS: Readonly<Partial<Record<NonNullable<ProblemCode>, number>>> = Object.freeze({
  validation_failed: 400,
  idempotency_key_missing: 400,
  idempotency_key_invalid: 400,
  unauthenticated: 401,
  insufficient_funds: 402,
  card_declined: 402,
  insufficient_scope: 403,
  not_found: 404,
  invalid_state: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  idempotency_key_reused: 422,
  currency_mismatch: 422,
  balance_limit_exceeded: 422,
  last_managing_key: 422,
  webhook_url_not_allowed: 422,
  precondition_required: 428,
});

/** The codes that say "not decided yet": the request may still take effect, so it is retried with its key. */
export const UNDECIDED_PROBLEMS: readonly NonNullable<ProblemCode>[] = Object.freeze([
  'idempotency_request_in_progress',
  'rate_limited',
  'internal_error',
  'unavailable',
  'acquirer_unavailable',
]);

/**
 * Whether an error answer decides the request. Anything not recognisably the service's own decided
 * problem — a gateway's 502 page, a 504 with `{"message": ...}`, an empty 500, a 409 in progress, a
 * 429 or 503 — is undecided: the request may have taken effect, and a retry with the same key is
 * how to learn whether it did.
 */
export function isDecidedProblem(status: number, code: string | undefined, isProblemJson: boolean): boolean {
  if (!isProblemJson || code === undefined) return false;
  return (DECIDED_PROBLEMS as Record<string, number | undefined>)[code] === status;
}

/**
 * Whether a success answer is "accepted, not decided yet": a 202 (RFC 9110: accepted, processing not
 * complete). The service answers it for a card charge its acquirer has not decided (the charge,
 * `pending`, with Retry-After; not recorded). It is not final: `createCharge` repeats the request
 * with the same key and body after Retry-After until the charge is `succeeded` (201) or declined
 * (402 `card_declined`), and throws `ChargePendingError` when its `pendingWaitMs` runs out first.
 */
export function isPendingAnswer(status: number): boolean {
  return status === 202;
}

/** The negation of isDecidedProblem for a problem+json answer of the service (kept for callers of 0.1). */
export function isUndecided(status: number, code: string | undefined): boolean {
  return !isDecidedProblem(status, code, true);
}

/** A small seeded random source (mulberry32): the same seed gives the same jitter, for tests. */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

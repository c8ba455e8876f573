/** A source of random numbers in [0, 1), like Math.random. Inject a seeded one for reproducible tests. */
export type RandomSource = () => number;

/** How hard one call tries before it gives up. */
export interface RetryPolicy {
  /** Attempts in all, the first one included: 1 means no retries. */
  maxAttempts: number;
  /** Time budget of the whole call, waits included: no retry is waited for past it. */
  totalTimeoutMs: number;
  /** The first retry waits up to this long; each further one up to twice as long as the one before. */
  baseDelayMs: number;
  /** No backoff waits longer than this (a Retry-After may ask for more). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = {
  maxAttempts: 6,
  totalTimeoutMs: 60_000,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
};

/**
 * The wait before retry number `retry` (1 for the first retry): exponential backoff with full
 * jitter, a random time in [0, min(maxDelayMs, baseDelayMs * 2^(retry-1))). Full jitter spreads
 * the retries of many clients that failed together, so they do not come back together.
 */
export function backoffDelayMs(retry: number, policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>, random: RandomSource): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

/**
 * The wait before a retry: the backoff, but never less than the server's Retry-After, which says
 * when it expects to be able to answer.
 */
export function retryDelayMs(
  retry: number,
  retryAfterMs: number | undefined,
  policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>,
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
 * The answers that say "not decided yet": the same request with the same key may get a decided
 * answer later. 409 only for a key still in flight: 409 invalid_state is a decided business answer.
 * Every other status is final and never retried.
 */
export function isUndecided(status: number, code: string | undefined): boolean {
  if (status === 429 || status === 503) return true;
  return status === 409 && code === 'idempotency_request_in_progress';
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

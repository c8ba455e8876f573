import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import {
  DECIDED_PROBLEMS,
  UNDECIDED_PROBLEMS,
  DEFAULT_RETRY_POLICY,
  backoffDelayMs,
  isDecidedProblem,
  isPendingAnswer,
  parseRetryAfter,
  retryDelayMs,
  seededRandom,
  validateRetryPolicy,
} from './retry.js';

const policy = { baseDelayMs: 100, maxDelayMs: 2_000 };

function schedule(seed: number, retries = 8): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: retries }, (_, index) => backoffDelayMs(index + 1, policy, random));
}

describe('backoff schedule', () => {
  it('is reproducible from its seed', () => {
    expect(schedule(42)).toEqual(schedule(42));
    expect(schedule(43)).not.toEqual(schedule(42));
  });

  it('waits a random time in the upper half of a step that doubles from baseDelayMs up to maxDelayMs', () => {
    const ceilings = [100, 200, 400, 800, 1600, 2000, 2000, 2000];
    for (let seed = 1; seed <= 200; seed++) {
      schedule(seed).forEach((delay, index) => {
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(ceilings[index]! / 2);
        expect(delay).toBeLessThan(ceilings[index]!);
      });
    }
  });

  it('spreads over the upper half of the step, so clients that failed together come back apart', () => {
    const random = seededRandom(7);
    const delays = Array.from({ length: 1000 }, () => backoffDelayMs(4, policy, random));
    expect(Math.min(...delays)).toBeLessThan(440);
    expect(Math.max(...delays)).toBeGreaterThan(760);
    const mean = delays.reduce((sum, delay) => sum + delay, 0) / delays.length;
    expect(mean).toBeGreaterThan(580);
    expect(mean).toBeLessThan(620);
  });

  it('never waits less than minDelayMs, whatever the jitter draws: six attempts never fit in a second', () => {
    expect(backoffDelayMs(1, { baseDelayMs: 1, maxDelayMs: 2_000, minDelayMs: 100 }, () => 0)).toBe(100);
    const waits = Array.from({ length: 5 }, (_, index) => backoffDelayMs(index + 1, DEFAULT_RETRY_POLICY, () => 0));
    expect(waits.reduce((sum, wait) => sum + wait, 0)).toBeGreaterThan(1_000);
  });

  it('stays at maxDelayMs however many retries', () => {
    expect(backoffDelayMs(1_000, policy, () => 0.999)).toBe(1_999);
  });

  it('never retries before Retry-After, and keeps the backoff when it is longer', () => {
    expect(retryDelayMs(1, 3_000, policy, () => 0.5)).toBe(3_000);
    expect(retryDelayMs(6, 1_000, policy, () => 0.5)).toBe(1_500);
    expect(retryDelayMs(2, undefined, policy, () => 0.5)).toBe(150);
  });
});

describe('retry options', () => {
  it.each([
    [{ baseDelayMs: undefined }, TypeError],
    [{ baseDelayMs: Number.NaN }, RangeError],
    [{ maxDelayMs: -1 }, RangeError],
    [{ maxAttempts: 0 }, RangeError],
    [{ maxAttempts: 2.5 }, RangeError],
    [{ totalTimeoutMs: Infinity }, RangeError],
    [{ maxAtempts: 3 }, TypeError],
    [{ minDelayMs: '100' }, TypeError],
  ])('%j is refused (%p)', (options, kind) => {
    expect(() => validateRetryPolicy(options as never)).toThrow(kind);
  });

  it('takes the defaults and any sensible override', () => {
    expect(() => validateRetryPolicy(DEFAULT_RETRY_POLICY)).not.toThrow();
    expect(() => validateRetryPolicy({ maxAttempts: 1, baseDelayMs: 0 })).not.toThrow();
  });
});

describe('Retry-After', () => {
  const now = Date.parse('Sun, 23 Nov 2026 14:00:00 GMT');

  it('reads delay-seconds and HTTP-dates', () => {
    expect(parseRetryAfter('1', now)).toBe(1_000);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('Sun, 23 Nov 2026 14:00:05 GMT', now)).toBe(5_000);
  });

  it('treats a date in the past as now, and anything unreadable as absent', () => {
    expect(parseRetryAfter('Sun, 23 Nov 2026 13:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
  });
});

describe('which answers decide a request', () => {
  it.each([
    [429, 'rate_limited'],
    [503, 'unavailable'],
    [500, 'internal_error'],
    [409, 'idempotency_request_in_progress'],
    // A code with a status the contract does not give it is not the service speaking.
    [502, 'validation_failed'],
    [400, 'insufficient_funds'],
    [503, undefined],
    [502, undefined],
  ])('%i %s: undecided, retried', (status, code) => {
    expect(isDecidedProblem(status, code, true)).toBe(false);
  });

  it.each([
    [400, 'validation_failed'],
    [400, 'idempotency_key_invalid'],
    [401, 'unauthenticated'],
    [402, 'insufficient_funds'],
    [404, 'not_found'],
    [409, 'invalid_state'],
    [412, 'precondition_failed'],
    [413, 'payload_too_large'],
    [415, 'unsupported_media_type'],
    [422, 'idempotency_key_reused'],
    [422, 'currency_mismatch'],
    [422, 'balance_limit_exceeded'],
    [428, 'precondition_required'],
  ])('%i %s: decided, never retried', (status, code) => {
    expect(isDecidedProblem(status, code, true)).toBe(true);
  });

  it('nothing is decided by a body that is not problem+json, whatever it says', () => {
    expect(isDecidedProblem(402, 'insufficient_funds', false)).toBe(false);
  });
});

describe('which successes are not final', () => {
  it('202 (a card charge pending at the acquirer) is accepted, not decided: repeated after Retry-After', () => {
    expect(isPendingAnswer(202)).toBe(true);
  });

  it.each([200, 201, 204])('%i is the result', (status) => {
    expect(isPendingAnswer(status)).toBe(false);
  });
});

describe('every problem code of the service', () => {
  it('is either decided (under its one status) or undecided, so a new code cannot slip through unclassified', () => {
    const document = JSON.parse(readFileSync(new URL('../../../openapi.json', import.meta.url), 'utf8')) as {
      components: { schemas: { ProblemDetailsDto: { properties: { code: { enum: string[] } } } } };
    };
    const codes = document.components.schemas.ProblemDetailsDto.properties.code.enum;
    const classified = [...Object.keys(DECIDED_PROBLEMS), ...UNDECIDED_PROBLEMS].sort();
    expect(classified).toEqual([...codes].sort());
  });
});
